// The notice: where the regime grants before a choice (GET {prefix} says notice_only), the
// banner informs rather than asks (docs/regions.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { start } from '../src/main.js';
import { STATE, browser, click, script } from './helpers.js';

const $ = (doc, sel) => doc.querySelector(sel);
const posted = (b) => b.calls.filter((c) => c.method == 'POST').map((c) => c.body.categories);
const escape = (doc) => {
  const ev = new doc.defaultView.Event('keydown', { cancelable: true });
  ev.key = 'Escape';
  $(doc, '#consent-banner').dispatchEvent(ev);
};

// What the server answers an undecided visitor in California: everything but the
// required category's peers granted until an opt-out, and the opt-out page's link.
const CA = {
  ...STATE,
  granted: ['analytics', 'marketing', 'necessary', 'preferences'],
  region: 'US-CA',
  regime: 'opt-out',
  notice_only: true,
  opt_out: ['/_consent/opt-out', 'Do Not Sell or Share My Personal Information'],
};
const NOTICE = { ...CA, region: 'US-TX', regime: 'notice', opt_out: undefined };
const ASK = { ...STATE, region: 'DE', regime: 'opt-in', notice_only: false };

const visit = async (state, session = {}) => {
  const b = browser({ state, session });
  start(b.win, script(), b.layer);
  await b.settle();
  return b;
};

test('notice_only decides the first layer: a notice without the Accept/Reject pair, or the ask-first dialog', async (t) => {
  for (const [id, state, pair, runs] of [
    ['opt-out region: notice', CA, false, true],
    ['notice region: notice', NOTICE, false, true],
    ['opt-in region: ask first', ASK, true, false],
  ]) {
    await t.test(id, async () => {
      const b = await visit(state);
      assert.ok($(b.doc, '#consent-banner'), 'shown on the first visit');
      for (const sel of ['#consent-accept-all', '#consent-reject-all']) assert.equal(!!$(b.doc, sel), pair, sel);
      assert.equal($(b.doc, '#consent-customize').hidden, false, 'the second layer stays one click away');
      assert.equal($(b.doc, '#consent-save').hidden, pair, 'a notice is dismissed with "Save choices"');
      // The server granted already: the gated script runs without a click (or waits for one).
      assert.equal($(b.doc, 'script[src="/a.js"]')?.getAttribute('type') === null, runs);
      assert.deepEqual(posted(b), []);
    });
  }
});

test('an opt-out region puts the server-titled opt-out link first in the notice; elsewhere there is none', async () => {
  const b = await visit(CA);
  const a = $(b.doc, '#consent-opt-out');
  assert.equal(a.getAttribute('href'), '/_consent/opt-out');
  assert.equal(a.textContent, 'Do Not Sell or Share My Personal Information');
  // Right under the description, before any note or button (Cal. Civ. Code §1798.135(a)(1)).
  assert.equal(a.parentNode.previousElementSibling.id, 'consent-desc');
  assert.equal((await visit(NOTICE)).doc.querySelector('#consent-opt-out'), null);
  assert.equal((await visit(ASK)).doc.querySelector('#consent-opt-out'), null);
});

test('dismissing records nothing, and the notice stays away for the rest of the session', async () => {
  const session = {};
  const b = await visit(CA, session);
  click($(b.doc, '#consent-save'));
  await b.settle();
  assert.equal($(b.doc, '#consent-banner'), null, 'dismissed');
  assert.deepEqual(posted(b), [], 'a notice is not a consent: nothing is posted');
  // The next page of the tab: no notice, and what the server granted still runs.
  const next = await visit(CA, session);
  assert.equal($(next.doc, '#consent-banner'), null);
  assert.equal($(next.doc, 'script[src="/a.js"]').getAttribute('type'), null);
  // "Privacy choices" brings it back.
  click($(next.doc, '#consent-open'));
  await next.settle();
  assert.ok($(next.doc, '#consent-opt-out'));
  // A new session (another tab) sees it again.
  assert.ok($((await visit(CA)).doc, '#consent-banner'));
});

test('Escape dismisses a notice (and remembers it), never the ask-first dialog', async () => {
  const session = {};
  const b = await visit(NOTICE, session);
  escape(b.doc);
  assert.equal($(b.doc, '#consent-banner'), null);
  assert.equal($((await visit(NOTICE, session)).doc, '#consent-banner'), null);
  const ask = await visit(ASK, session);
  escape(ask.doc);
  assert.ok($(ask.doc, '#consent-banner'), 'an opt-in visitor keeps the dialog');
  assert.deepEqual(posted(b).concat(posted(ask)), []);
});

test("the notice's second layer shows what runs; saving a narrower choice records it and reloads", async () => {
  const b = await visit(CA);
  click($(b.doc, '#consent-customize'));
  await b.settle();
  const boxes = Object.fromEntries([...b.doc.querySelectorAll('input[name="category"]')].map((i) => [i.value, i]));
  assert.equal(boxes.analytics.checked, true, 'granted by the regime, so ticked');
  boxes.analytics.checked = false;
  click($(b.doc, '#consent-save'));
  await b.settle();
  assert.deepEqual(posted(b), [['necessary', 'preferences', 'marketing']]);
  assert.deepEqual(b.reloads, [1], 'a withdrawn category needs a fresh page');
});
