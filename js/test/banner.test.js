import { test } from 'node:test';
import assert from 'node:assert/strict';
import { start } from '../src/main.js';
import { STATE, browser, click, cookieFor, langAttrs, minorNoticeOf, recorded, script } from './helpers.js';

const $ = (doc, sel) => doc.querySelector(sel);
const boxes = (doc) => Object.fromEntries([...doc.querySelectorAll('input[name="category"]')].map((i) => [i.value, i]));
const args = (dl) => dl.map((a) => [...a]);
const posted = (b) => b.calls.filter((c) => c.method == 'POST').map((c) => c.body.categories);

test('first visit: the banner is a labelled modal dialog with the three first-layer buttons', async () => {
  const b = browser();
  start(b.win, script(), b.layer);
  await b.settle();
  const d = $(b.doc, '#consent-banner');
  assert.ok(d, 'banner shown');
  assert.equal(d.getAttribute('role'), 'dialog');
  assert.equal(d.getAttribute('aria-modal'), 'true');
  assert.equal($(b.doc, '#' + d.getAttribute('aria-labelledby')).textContent, 'Privacy choices');
  assert.ok(b.focused() === d, 'focus moved into the dialog');
  // fetch's default credentials ('same-origin') send the site's cookies with it.
  assert.deepEqual(b.calls.map((c) => [c.method, c.url, c.opts.credentials]), [['GET', '/_consent/', undefined]]);
  assert.equal($(b.doc, '#consent-save').hidden, true);
  assert.equal($(b.doc, 'fieldset'), null, 'the second layer is not even loaded before Customize');
  assert.equal(b.layer.loads, 0);
  assert.equal($(b.doc, 'a').getAttribute('href'), '/_consent/preferences');
});

test('equal prominence: Accept all, Reject all, Customize are the same element type and class', async () => {
  const b = browser();
  start(b.win, script(), b.layer);
  await b.settle();
  const btns = ['#consent-accept-all', '#consent-reject-all', '#consent-customize'].map((s) => $(b.doc, s));
  for (const el of btns) {
    assert.equal(el.tagName, 'BUTTON');
    assert.equal(el.getAttribute('type'), 'button');
    assert.equal(el.getAttribute('class'), btns[0].getAttribute('class'));
    assert.equal(el.parentNode, btns[0].parentNode);
    assert.equal(el.hidden, false);
  }
});

test('customize: categories listed, none pre-ticked, required ones checked and disabled', async () => {
  const b = browser();
  start(b.win, script(), b.layer);
  await b.settle();
  click($(b.doc, '#consent-customize'));
  await b.settle();
  assert.equal($(b.doc, 'fieldset').hidden, false);
  assert.equal($(b.doc, '#consent-save').hidden, false);
  const c = boxes(b.doc);
  assert.deepEqual(Object.keys(c), ['necessary', 'preferences', 'analytics', 'marketing']);
  assert.equal(c.necessary.checked, true);
  assert.equal(c.necessary.disabled, true);
  for (const n of ['preferences', 'analytics', 'marketing']) {
    assert.equal(c[n].checked, false, n + ' not pre-ticked');
    assert.equal(c[n].disabled, false);
  }
  assert.ok(b.focused() === c.preferences, 'focus on the first category the visitor can change');
  assert.match(b.doc.body.textContent, /Remembers your settings\./);
  assert.match(b.doc.body.textContent, /\(always on\)/, 'locked state said in words');
});

test('reject all: POSTs an empty list as JSON, closes, runs no gated script', async () => {
  const b = browser();
  start(b.win, script(), b.layer);
  await b.settle();
  click($(b.doc, '#consent-reject-all'));
  await b.settle();
  const post = b.calls[1];
  assert.equal(post.method, 'POST');
  assert.equal(post.url, '/_consent/');
  assert.equal(post.opts.headers['Content-Type'], 'application/json');
  assert.deepEqual(post.body, { categories: [], method: 'banner' });
  assert.equal($(b.doc, '#consent-banner'), null);
  assert.equal(b.doc.querySelectorAll('script[type="text/plain"]').length, 2);
  assert.equal(b.reloads.length, 0);
});

test('accept all: POSTs every category and activates the granted elements', async () => {
  const b = browser();
  const seen = [];
  b.doc.addEventListener('consentchange', (e) => seen.push(e.detail.granted));
  start(b.win, script(), b.layer);
  await b.settle();
  click($(b.doc, '#consent-accept-all'));
  await b.settle();
  assert.deepEqual(b.calls[1].body.categories, ['necessary', 'preferences', 'analytics', 'marketing']);
  assert.equal(b.doc.querySelectorAll('script[type="text/plain"]').length, 0);
  assert.equal($(b.doc, 'img').getAttribute('src'), '/px.gif');
  assert.deepEqual(seen, [['necessary', 'preferences', 'analytics', 'marketing']]);
});

test('save: POSTs the ticked categories only', async () => {
  const b = browser();
  start(b.win, script(), b.layer);
  await b.settle();
  click($(b.doc, '#consent-customize'));
  await b.settle();
  boxes(b.doc).analytics.checked = true;
  click($(b.doc, '#consent-save'));
  await b.settle();
  assert.deepEqual(posted(b), [['necessary', 'analytics']]);
  assert.equal($(b.doc, 'script[src="/a.js"]').getAttribute('type'), null);
  assert.equal($(b.doc, 'img').hasAttribute('src'), false);
});

test('a failed POST keeps the dialog open, says so, and grants nothing', async () => {
  const b = browser({ post: () => new Error('offline') });
  start(b.win, script(), b.layer);
  await b.settle();
  click($(b.doc, '#consent-accept-all'));
  await b.settle();
  assert.ok($(b.doc, '#consent-banner'));
  assert.equal($(b.doc, '[role="alert"]').textContent, 'Your choice could not be saved. Please try again.');
  assert.equal(b.doc.querySelectorAll('script[type="text/plain"]').length, 2);
});

test('Escape never consents: the undecided visitor keeps the dialog and nothing is posted', async () => {
  const b = browser();
  start(b.win, script(), b.layer);
  await b.settle();
  const ev = new b.doc.defaultView.Event('keydown', { cancelable: true });
  ev.key = 'Escape';
  $(b.doc, '#consent-banner').dispatchEvent(ev);
  await b.settle();
  assert.ok($(b.doc, '#consent-banner'));
  assert.equal(b.calls.length, 1);
});

test('decided visitor of this revision: no request, no banner, gated elements run', async () => {
  const b = browser({ cookie: cookieFor({ r: 3, c: ['necessary', 'analytics'], t: 1 }) });
  start(b.win, script(), b.layer);
  await b.settle();
  assert.equal(b.calls.length, 0);
  assert.equal($(b.doc, '#consent-banner'), null);
  assert.equal($(b.doc, 'script[src="/a.js"]').getAttribute('type'), null);
});

test('on an https page the __Host- cookie is read, and a planted unprefixed one is not', async () => {
  const payload = { r: 3, c: ['necessary', 'analytics'], t: 1 };
  const b = browser({ cookie: cookieFor(payload, '__Host-consent'), protocol: 'https:' });
  start(b.win, script(), b.layer);
  await b.settle();
  assert.equal(b.calls.length, 0, 'a decided visitor of this revision needs no request');
  assert.equal($(b.doc, 'script[src="/a.js"]').getAttribute('type'), null);
  const planted = browser({ cookie: cookieFor(payload), protocol: 'https:' });
  start(planted.win, script(), planted.layer);
  await planted.settle();
  assert.equal(planted.calls.length, 1, 'the server is asked');
  assert.equal($(planted.doc, 'script[src="/a.js"]'), null, 'nothing gated runs on a planted cookie');
});

test('a cookie of an older revision asks the server, which may show the banner again', async () => {
  const b = browser({ cookie: cookieFor({ r: 2, c: ['necessary', 'analytics'], t: 1 }) });
  start(b.win, script(), b.layer);
  await b.settle();
  assert.equal(b.calls.length, 1);
  assert.ok($(b.doc, '#consent-banner'));
  assert.equal(b.doc.querySelectorAll('script[type="text/plain"]').length, 2);
});

test('decided according to the server: no banner, its granted set applies', async () => {
  const b = browser({ state: recorded(['marketing']) });
  start(b.win, script(), b.layer);
  await b.settle();
  assert.equal($(b.doc, '#consent-banner'), null);
  assert.equal($(b.doc, 'img').getAttribute('src'), '/px.gif');
});

test('#consent-open is created when the page has none, and reopens with the current choice', async () => {
  const cookie = cookieFor({ r: 3, c: ['necessary', 'analytics'], t: 1 });
  const b = browser({ cookie, state: recorded(['analytics']) });
  start(b.win, script(), b.layer);
  await b.settle();
  const open = $(b.doc, '#consent-open');
  assert.equal(open.tagName, 'BUTTON');
  assert.equal(open.textContent, 'Privacy choices');
  open.focus();
  click(open);
  await b.settle();
  assert.ok($(b.doc, '#consent-banner'));
  const c = boxes(b.doc);
  assert.equal(c.analytics.checked, true);
  assert.equal(c.marketing.checked, false);
  assert.equal($(b.doc, '#consent-save').hidden, false);
  // Escape closes a reopened dialog and keeps the recorded choice.
  const ev = new b.doc.defaultView.Event('keydown', { cancelable: true });
  ev.key = 'Escape';
  $(b.doc, '#consent-banner').dispatchEvent(ev);
  assert.equal($(b.doc, '#consent-banner'), null);
  assert.equal(b.calls.filter((x) => x.method == 'POST').length, 0);
  assert.ok(b.focused() === open, 'focus returns to the control that opened it');
});

test('withdrawal: a narrower choice reloads the page; a wider one does not', async () => {
  const cookie = cookieFor({ r: 3, c: ['necessary', 'analytics'], t: 1 });
  const b = browser({ cookie, state: recorded(['analytics']) });
  start(b.win, script(), b.layer);
  await b.settle();
  click($(b.doc, '#consent-open'));
  await b.settle();
  click($(b.doc, '#consent-accept-all'));
  await b.settle();
  assert.equal(b.reloads.length, 0);
  click($(b.doc, '#consent-open'));
  await b.settle();
  click($(b.doc, '#consent-reject-all'));
  await b.settle();
  assert.equal(b.reloads.length, 1);
});

test("the page's own #consent-open is used, not duplicated, and its link is not followed", async () => {
  const b = browser({ html: '<html><body><a id="consent-open" href="/_consent/preferences">Cookies</a></body></html>' });
  start(b.win, script(), b.layer);
  await b.settle();
  assert.equal(b.doc.querySelectorAll('#consent-open').length, 1);
  const ev = new b.doc.defaultView.Event('click', { cancelable: true });
  $(b.doc, '#consent-open').dispatchEvent(ev);
  assert.equal(ev.defaultPrevented, true);
});

test('the endpoint comes from data-consent-endpoint', async () => {
  const b = browser();
  start(b.win, script({ consentEndpoint: '/privacy/api/' }), b.layer);
  await b.settle();
  assert.equal(b.calls[0].url, '/privacy/api/');
  assert.equal($(b.doc, '#consent-desc a').getAttribute('href'), '/privacy/api/preferences');
});

test('GPC reported by the server: gpc categories off and locked, with the words', async () => {
  const b = browser({ state: { ...STATE, gpc: true } });
  start(b.win, script(), b.layer);
  await b.settle();
  assert.match($(b.doc, '#consent-banner').textContent, /Global Privacy Control signal honored/);
  click($(b.doc, '#consent-customize'));
  await b.settle();
  const c = boxes(b.doc);
  assert.equal(c.marketing.checked, false);
  assert.equal(c.marketing.disabled, true);
  assert.equal(c.analytics.disabled, false);
  click($(b.doc, '#consent-accept-all'));
  await b.settle();
  assert.deepEqual(posted(b), [['necessary', 'preferences', 'analytics']]);
});

test('GPC in the browser: the cookie shortcut is skipped so the server can apply the signal', async () => {
  const cookie = cookieFor({ r: 3, c: ['necessary', 'marketing'], t: 1 });
  const b = browser({ cookie, gpc: true, state: { ...recorded([]), gpc: true } });
  start(b.win, script(), b.layer);
  await b.settle();
  assert.equal(b.calls.length, 1);
  assert.equal($(b.doc, 'img').hasAttribute('src'), false);
  click($(b.doc, '#consent-open'));
  await b.settle();
  assert.match($(b.doc, '#consent-banner').textContent, /Global Privacy Control signal honored/);
  assert.equal(boxes(b.doc).marketing.disabled, true);
});

test('a minor gets no Accept all and is told to ask a parent or guardian, in the server\'s words', async () => {
  const b = browser({ state: { ...STATE, minor: true, minor_notice: minorNoticeOf('en') } });
  start(b.win, script(), b.layer);
  await b.settle();
  assert.equal($(b.doc, '#consent-accept-all'), null);
  assert.ok($(b.doc, '#consent-reject-all'));
  assert.match($(b.doc, '#consent-banner').textContent, /ask a parent or guardian/);
});

test('Simplified Chinese chrome when the tag carries zh-Hans texts; labels and the minor\'s notice still from the server', async () => {
  const state = { ...STATE, minor: true, minor_notice: minorNoticeOf('zh-Hans'), gpc: true };
  const b = browser({ html: '<html lang="en"><body></body></html>', state });
  start(b.win, script(langAttrs('zh-Hans')), b.layer);
  await b.settle();
  assert.equal($(b.doc, '#consent-title').textContent, '隐私选项');
  assert.equal($(b.doc, '#consent-reject-all').textContent, '全部拒绝');
  assert.equal($(b.doc, '#consent-customize').textContent, '自定义');
  assert.match($(b.doc, '#consent-banner').textContent, /父母或监护人/);
  assert.match($(b.doc, '#consent-banner').textContent, /全球隐私控制/);
  assert.match($(b.doc, '#consent-banner').textContent, /Strictly necessary/);
});

test('Consent Mode v2: default (all denied, wait_for_update) at start, update after the choice', async () => {
  const dl = [];
  const b = browser({ dataLayer: dl });
  start(b.win, script(), b.layer);
  assert.equal(dl.length, 1, 'default pushed synchronously, before any tag');
  assert.equal(Object.prototype.toString.call(dl[0]), '[object Arguments]', 'gtag.js reads Arguments objects');
  const [cmd, kind, st] = args(dl)[0];
  assert.equal(cmd, 'consent');
  assert.equal(kind, 'default');
  assert.equal(st.wait_for_update, 500);
  assert.equal(Object.values(st).filter((v) => v == 'denied').length, 7);
  await b.settle();
  click($(b.doc, '#consent-customize'));
  await b.settle();
  boxes(b.doc).analytics.checked = true;
  click($(b.doc, '#consent-save'));
  await b.settle();
  const upd = args(dl)[1];
  assert.deepEqual(upd.slice(0, 2), ['consent', 'update']);
  assert.equal(upd[2].analytics_storage, 'granted');
  assert.equal(upd[2].security_storage, 'granted');
  assert.equal(upd[2].ad_storage, 'denied');
});

test('Consent Mode v2: update on every page of a decided visitor, through window.gtag', async () => {
  const calls = [];
  const b = browser({ cookie: cookieFor({ r: 3, c: ['necessary', 'marketing'], t: 1 }) });
  b.win.gtag = (...a) => calls.push(a);
  start(b.win, script(), b.layer);
  await b.settle();
  assert.deepEqual(calls.map((c) => c[1]), ['default', 'update']);
  assert.equal(calls[1][2].ad_user_data, 'granted');
  assert.equal(calls[1][2].analytics_storage, 'denied');
});

test('Consent Mode v2: mapping configured by data-consent-mode; nothing pushed without gtag', async () => {
  const dl = [];
  const b = browser({ dataLayer: dl, cookie: cookieFor({ r: 3, c: ['necessary', 'stats'], t: 1 }) });
  start(b.win, script({ consentMode: '{"stats":["analytics_storage"]}' }), b.layer);
  await b.settle();
  assert.equal(args(dl)[1][2].analytics_storage, 'granted');
  assert.equal(args(dl)[1][2].security_storage, 'denied');

  const plain = browser();
  start(plain.win, script(), plain.layer);
  await plain.settle();
  assert.equal(plain.win.dataLayer, undefined);
});

test('#consent-open falls back to the no-JS preferences page when the endpoint fails', async () => {
  let fail = false;
  const b = browser({ cookie: cookieFor({ r: 3, c: ['necessary'], t: 1 }), state: () => (fail ? new Error('503') : STATE) });
  start(b.win, script(), b.layer);
  await b.settle();
  fail = true;
  click($(b.doc, '#consent-open'));
  await b.settle();
  assert.deepEqual(b.reloads, ['/_consent/preferences']);
});

test('a double click while the choice is being saved posts once', async () => {
  const b = browser();
  start(b.win, script(), b.layer);
  await b.settle();
  click($(b.doc, '#consent-reject-all'));
  click($(b.doc, '#consent-reject-all'));
  await b.settle();
  assert.equal(b.calls.filter((c) => c.method == 'POST').length, 1);
});

test('after a failed save the visitor can try again', async () => {
  let fail = true;
  const b = browser({ post: (body) => (fail ? new Error('offline') : recorded(body.categories)) });
  start(b.win, script(), b.layer);
  await b.settle();
  click($(b.doc, '#consent-reject-all'));
  await b.settle();
  fail = false;
  click($(b.doc, '#consent-reject-all'));
  await b.settle();
  assert.equal(b.calls.filter((c) => c.method == 'POST').length, 2);
  assert.equal($(b.doc, '#consent-banner'), null);
});

test('first layer: one sentence names every purpose (the categories\' labels)', async () => {
  const b = browser();
  start(b.win, script(), b.layer);
  await b.settle();
  assert.match($(b.doc, '#consent-desc').textContent,
    /^We use cookies and similar technologies for these purposes: Strictly necessary, Preferences, Analytics, Marketing\. /);
});

test('first layer: the privacy notice is one click away, at the policy\'s notice URL', async () => {
  const b = browser();
  start(b.win, script({ consentNotice: '/legal/notice' }), b.layer);
  await b.settle();
  const a = $(b.doc, '#consent-notice');
  assert.equal(a.tagName, 'A');
  assert.equal(a.getAttribute('href'), '/legal/notice');
  assert.equal(a.textContent, 'Privacy notice');
  assert.ok($(b.doc, '#consent-desc').contains(a), 'in the description the dialog is described by');
  const plain = browser();
  start(plain.win, script(), plain.layer);
  await plain.settle();
  assert.equal($(plain.doc, '#consent-notice').getAttribute('href'), '/privacy', 'Policy.notice_url\'s default');
});

test('first layer in Simplified Chinese: purposes joined with 、, notice and preferences links', async () => {
  const b = browser({ html: '<html lang="zh-Hans"><body></body></html>' });
  start(b.win, script(langAttrs('zh-Hans')), b.layer);
  await b.settle();
  assert.match($(b.doc, '#consent-desc').textContent, /用于以下目的：Strictly necessary、Preferences、Analytics、Marketing。/);
  assert.equal($(b.doc, '#consent-notice').textContent, '隐私声明');
  assert.equal($(b.doc, '#consent-desc a').textContent, '偏好设置页面');
});

test('Customize loads the second layer and declaration.json then, once; the table lists each category\'s cookies', async () => {
  const b = browser();
  start(b.win, script(), b.layer);
  await b.settle();
  assert.deepEqual(b.calls.map((c) => c.url), ['/_consent/'], 'the first paint fetches no declaration');
  click($(b.doc, '#consent-customize'));
  click($(b.doc, '#consent-customize'));
  await b.settle();
  assert.equal(b.layer.loads, 1);
  assert.deepEqual(b.calls.map((c) => c.url), ['/_consent/', '/_consent/declaration.json?lang=en']);
  assert.equal(b.doc.querySelectorAll('fieldset').length, 1, 'a double click builds one second layer');
  const rows = (name) => [...b.doc.querySelectorAll(`#consent-cookies-${name} tr`)].map((tr) => [...tr.children].map((c) => c.textContent));
  assert.deepEqual(rows('analytics'), [['Cookie', 'Purpose', 'Lifetime', 'Set by'], ['_ga*', 'Counts visits', '2 years', 'Google']]);
  assert.deepEqual(rows('necessary')[1], ['sid', 'Keeps you signed in', 'session', 'this site']);
  assert.equal($(b.doc, '#consent-cookies-preferences'), null);
  assert.match($(b.doc, '#consent-d-preferences').parentNode.textContent, /No cookies\./);
  assert.equal($(b.doc, '#consent-cookies-analytics th').getAttribute('scope'), 'col');
});

test('a reopened dialog shows its second layer complete; the declaration is not fetched twice', async () => {
  const cookie = cookieFor({ r: 3, c: ['necessary', 'analytics'], t: 1 });
  const b = browser({ cookie, state: recorded(['analytics']) });
  start(b.win, script(), b.layer);
  await b.settle();
  for (let i = 0; i < 2; i++) {
    click($(b.doc, '#consent-open'));
    await b.settle();
    assert.ok($(b.doc, '#consent-cookies-analytics'), 'the table is there as soon as the dialog is');
    assert.equal($(b.doc, '#consent-save').hidden, false);
    const ev = new b.doc.defaultView.Event('keydown', { cancelable: true });
    ev.key = 'Escape';
    $(b.doc, '#consent-banner').dispatchEvent(ev);
  }
  assert.equal(b.calls.filter((c) => c.url.includes('declaration.json')).length, 1);
  assert.equal(b.layer.loads, 1);
});

test('second layer in Simplified Chinese: table headers and "this site" in Chinese', async () => {
  const b = browser({ html: '<html lang="zh-CN"><body></body></html>' });
  start(b.win, script(langAttrs('zh-Hans')), b.layer);
  await b.settle();
  click($(b.doc, '#consent-customize'));
  await b.settle();
  const head = [...b.doc.querySelectorAll('#consent-cookies-necessary th')].map((th) => th.textContent);
  assert.deepEqual(head, ['Cookie', '用途', '有效期', '设置方']);
  assert.equal($(b.doc, '#consent-cookies-necessary tbody td:last-child').textContent, '本网站');
  assert.equal($(b.doc, 'legend').textContent, '类别');
  // The second layer's texts are not in the tag: they come with the declaration, asked in
  // the tag's language (not the page's zh-CN).
  assert.equal(b.calls[1].url, '/_consent/declaration.json?lang=zh-Hans');
});

for (const [id, declaration] of [
  ['a failed request', new Error('503')],
  ['a declaration without texts', () => ({ cookies: [] })],
]) {
  test(`without the second layer's texts Customize goes to the no-JS preferences page, never an empty layer: ${id}`, async () => {
    const b = browser({ declaration });
    start(b.win, script(), b.layer);
    await b.settle();
    click($(b.doc, '#consent-customize'));
    await b.settle();
    assert.equal(b.doc.querySelectorAll('fieldset').length, 0);
    assert.deepEqual(b.reloads, ['/_consent/preferences']);
    assert.equal(posted(b).length, 0);
  });
}

test('when the second layer cannot load, Customize goes to the no-JS preferences page', async () => {
  const b = browser({ layerFails: true });
  start(b.win, script(), b.layer);
  await b.settle();
  click($(b.doc, '#consent-customize'));
  await b.settle();
  assert.deepEqual(b.reloads, ['/_consent/preferences']);
  assert.equal(posted(b).length, 0);
});

test('the banner speaks the tag\'s language, whatever the page\'s: German, with lang on the dialog', async () => {
  const b = browser({ html: '<html lang="en"><body></body></html>' });
  start(b.win, script(langAttrs('de')), b.layer);
  await b.settle();
  const dlg = $(b.doc, '#consent-banner');
  assert.equal(dlg.getAttribute('lang'), 'de');
  assert.equal(dlg.getAttribute('dir'), 'ltr');
  assert.equal($(b.doc, '#consent-reject-all').textContent, 'Alle ablehnen');
  assert.match($(b.doc, '#consent-desc').textContent, /Zwecke: Strictly necessary, Preferences, Analytics, Marketing\./);
  assert.equal($(b.doc, '#consent-open').textContent, 'Datenschutzeinstellungen');
});

test('Arabic: the dialog and the reopen button are right to left; the second layer in Arabic', async () => {
  const b = browser({ html: '<html lang="en"><body></body></html>' });
  start(b.win, script(langAttrs('ar', 'rtl')), b.layer);
  await b.settle();
  assert.equal($(b.doc, '#consent-banner').getAttribute('dir'), 'rtl');
  assert.equal($(b.doc, '#consent-open').getAttribute('dir'), 'rtl');
  assert.equal($(b.doc, '#consent-accept-all').textContent, 'قبول الكل');
  assert.match($(b.doc, '#consent-desc').textContent, /Strictly necessary، Preferences، Analytics، Marketing/);
  click($(b.doc, '#consent-customize'));
  await b.settle();
  assert.equal($(b.doc, 'legend').textContent, 'الفئات');
});

test('a dir that is not rtl is ltr: the attribute cannot inject anything else', async () => {
  const b = browser({ html: '<html><body></body></html>' });
  start(b.win, script({ ...langAttrs('fr'), consentDir: 'auto" onload="x' }), b.layer);
  await b.settle();
  assert.equal($(b.doc, '#consent-banner').getAttribute('dir'), 'ltr');
  assert.equal($(b.doc, '#consent-customize').textContent, 'Personnaliser');
});

test("a choice the page's policy cannot honour (the server says reload) loads the page again", async () => {
  // third_party_csp="enforce": the page's CSP, sent before the choice, refuses the hosts of
  // the categories just granted; the server says so and the banner reloads once.
  const b = browser({ post: (body) => ({ ...recorded(body.categories), reload: true }) });
  start(b.win, script(), b.layer);
  await b.settle();
  click($(b.doc, '#consent-accept-all'));
  await b.settle();
  assert.equal(b.reloads.length, 1);
});
