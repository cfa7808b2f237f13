import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MODE, TYPES, cookiesOf, gpcLocked, modeState, narrowed, once, parseMode, parseTexts, purposes, readCookie,
} from '../src/logic.js';
import { cookieFor, layerTextsOf, minorNoticeOf, textsOf } from './helpers.js';

test('texts: from the tag\'s JSON; anything unreadable is no texts rather than an error', () => {
  assert.deepEqual(parseTexts('{"title":"Datenschutz"}'), { title: 'Datenschutz' });
  for (const bad of [undefined, '', '{', 'null', '3']) assert.deepEqual(parseTexts(bad), {}, String(bad));
});

test('texts: every shipped language has both layers\' keys, one {purposes} in its description', () => {
  const keys = Object.keys(textsOf('en')).sort();
  const layerKeys = Object.keys(layerTextsOf('en')).sort();
  assert.ok(keys.includes('title') && layerKeys.includes('cats'));
  for (const tag of ['en', 'zh-Hans', 'de', 'fr', 'ar']) {
    const t = textsOf(tag);
    assert.deepEqual(Object.keys(t).sort(), keys, tag);
    assert.deepEqual(Object.keys(layerTextsOf(tag)).sort(), layerKeys, tag);
    assert.equal(t.desc.split('{purposes}').length, 2, `${tag}: one place for the purposes`);
  }
  // A minor's notice is not in the tag: GET /_consent/ says it to a minor (minor_notice).
  assert.equal(textsOf('en').minor, undefined);
  assert.match(minorNoticeOf('en'), /ask a parent or guardian/);
  assert.match(minorNoticeOf('zh-Hans'), /父母或监护人/);
  assert.equal(textsOf('en').gpc, 'Global Privacy Control signal honored');
});

test('consent cookie: payload read from <payload>.<signature>', () => {
  const p = { r: 3, c: ['necessary', 'analytics'], t: 1700000000 };
  assert.deepEqual(readCookie(cookieFor(p)), p);
  assert.deepEqual(readCookie('a=1; ' + cookieFor(p) + '; b=2'), p);
  assert.deepEqual(readCookie(cookieFor(p).replace('consent=', 'consent="') + '"'), p);
  // The older payload that still carried the consent id reads the same: only r and c count.
  assert.deepEqual(readCookie(cookieFor({ ...p, id: 'abc' })).c, p.c);
});

test('consent cookie: on https only a prefixed name is read; over http only the plain one', () => {
  const p = { r: 3, c: ['necessary', 'analytics'], t: 1700000000 };
  const cases = [
    // [document.cookie, secure, read?]
    [cookieFor(p, '__Host-consent'), true, true],
    [cookieFor(p, '__Secure-consent'), true, true],
    ['a=1; ' + cookieFor(p, '__Host-consent') + '; __Host-consent_id=x', true, true],
    [cookieFor(p), true, false], // planted by a sibling subdomain: not the site's
    [cookieFor(p, '__host-consent'), true, false], // a case variant is another cookie
    [cookieFor(p, '__HOST-consent'), true, false],
    [cookieFor(p, '__Host-consent'), false, false], // over http no browser sets a prefixed one
    // A planted one first, the site's after: the planted one is skipped, the site's read.
    [cookieFor({ ...p, c: ['necessary', 'marketing'] }) + '; ' + cookieFor(p, '__Host-consent'), true, true],
    ['x=a; consent=' + cookieFor(p, '__Host-consent') + '; y=1', true, false], // only a name counts, not a value
  ];
  for (const [cookies, secure, read] of cases) {
    assert.deepEqual(readCookie(cookies, secure), read ? p : null, `${cookies} (secure: ${secure})`);
  }
});

test('consent cookie: a consent_id cookie beside it is never read as the consent cookie', () => {
  const p = { r: 3, c: ['necessary'], t: 1699920000 };
  const other = cookieFor({ r: 2, c: ['necessary', 'marketing'], t: 1 }).replace('consent=', 'consent_id=');
  assert.deepEqual(readCookie(other + '; ' + cookieFor(p)), p);
  assert.equal(readCookie(other), null);
});

test('consent cookie: absent, foreign, truncated or forged-shape cookies read as null', () => {
  for (const c of ['', undefined, 'x=1', 'myconsent=eyJyIjozfQ.sig', 'consent=', 'consent=%%%.sig', 'consent=bm90IGpzb24.sig',
    cookieFor({ r: 3 }), cookieFor({ r: 3, c: 'analytics' }), 'consent=.eJyrVkrOz0nNS8.sig']) {
    assert.equal(readCookie(c), null, String(c));
  }
});

test('Consent Mode v2: the seven types, all denied without consent', () => {
  assert.equal(TYPES.length, 7);
  assert.deepEqual(Object.values(modeState([], DEFAULT_MODE)), Array(7).fill('denied'));
});

test('Consent Mode v2: default mapping per category', () => {
  const s = modeState(['necessary', 'analytics'], DEFAULT_MODE);
  assert.equal(s.security_storage, 'granted');
  assert.equal(s.analytics_storage, 'granted');
  assert.equal(s.ad_storage, 'denied');
  const m = modeState(['marketing', 'preferences'], DEFAULT_MODE);
  for (const t of ['ad_storage', 'ad_user_data', 'ad_personalization', 'functionality_storage', 'personalization_storage']) {
    assert.equal(m[t], 'granted', t);
  }
  assert.equal(m.analytics_storage, 'denied');
});

test('Consent Mode v2: a configured mapping replaces the default; unknown types are ignored', () => {
  const mapping = parseMode('{"stats":["analytics_storage","made_up"],"ads":["ad_storage"]}');
  const s = modeState(['stats', 'analytics'], mapping);
  assert.equal(s.analytics_storage, 'granted');
  assert.equal(s.ad_storage, 'denied');
  assert.equal(s.security_storage, 'denied');
  assert.equal('made_up' in s, false);
});

test('Consent Mode v2: a missing or malformed mapping falls back to the default', () => {
  for (const a of [undefined, '', 'not json', '[1]', '{"a":"analytics_storage"}', 'null']) assert.equal(parseMode(a), DEFAULT_MODE, String(a));
});

test('withdrawal: narrowing is any granted category taken away', () => {
  assert.equal(narrowed(['necessary', 'analytics'], ['necessary']), true);
  assert.equal(narrowed(['necessary'], ['necessary', 'analytics']), false);
  assert.equal(narrowed(['necessary', 'analytics'], ['necessary', 'marketing']), true);
  assert.equal(narrowed([], []), false);
});

test('GPC locks only gpc categories, never required ones, and only with the signal', () => {
  assert.equal(gpcLocked({ gpc: true }, true), true);
  assert.equal(gpcLocked({ gpc: true }, false), false);
  assert.equal(gpcLocked({ gpc: false }, true), false);
  assert.equal(gpcLocked({ gpc: true, required: true }, true), false);
});

test('purposes: every category\'s label (its name without one) in the sentence, in page order', () => {
  const cats = [{ name: 'necessary', label: 'Strictly necessary' }, { name: 'ads' }, { name: 'stats', label: 'Statistics' }];
  assert.equal(purposes({ desc: 'For: {purposes}. More.', sep: ', ' }, cats), 'For: Strictly necessary, ads, Statistics. More.');
  assert.match(purposes(textsOf('zh-Hans'), cats), /：Strictly necessary、ads、Statistics。/);
  // A label is text: a `$&` in it is not a replacement pattern.
  assert.equal(purposes({ desc: '{purposes}!', sep: '' }, [{ label: '$&$1' }]), '$&$1!');
});

test('cookiesOf: a category\'s cookies from declaration.json; a malformed declaration has none', () => {
  const decl = { cookies: [{ name: 'a', category: 'x' }, null, { name: 'b', category: 'y' }, { name: 'c', category: 'x' }] };
  assert.deepEqual(cookiesOf(decl, 'x').map((c) => c.name), ['a', 'c']);
  assert.deepEqual(cookiesOf(decl, 'z'), []);
  for (const bad of [null, undefined, {}, { cookies: 'x' }, 'junk']) assert.deepEqual(cookiesOf(bad, 'x'), [], String(bad));
});

test('once: one call while it succeeds; a failure is forgotten so the next call tries again', async () => {
  let n = 0;
  let fail = true;
  const get = once(() => (n++, fail ? Promise.reject(new Error('down')) : Promise.resolve(n)));
  await assert.rejects(get());
  fail = false;
  assert.equal(await get(), 2);
  assert.equal(await get(), 2);
  assert.equal(n, 2);
});
