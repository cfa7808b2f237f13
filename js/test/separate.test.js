import { test } from 'node:test';
import assert from 'node:assert/strict';
import { start } from '../src/main.js';
import { STATE, browser, click, cookieFor, recorded, script } from './helpers.js';

// PIPL Art 23, 29, 39: a category that needs its own, separate consent.
const TRANSFER = { name: 'transfer', label: 'Transfer abroad', description: 'Sends your data abroad.', required: false, gpc: false, separate: true };
const BASE = { ...STATE, categories: [...STATE.categories, TRANSFER] };
const $ = (doc, sel) => doc.querySelector(sel);
const bodies = (b) => b.calls.filter((c) => c.method == 'POST').map((c) => c.body);

async function opened(options = {}) {
  const b = browser({ state: BASE, ...options });
  start(b.win, script(), b.layer);
  await b.settle();
  return b;
}

test('Accept all never sends a separate category in "separate" (the server keeps it as it stands)', async () => {
  const b = await opened();
  click($(b.doc, '#consent-accept-all'));
  await b.settle();
  const [body] = bodies(b);
  assert.equal('separate' in body, false);
  assert.equal(body.method, 'banner');
});

test('Reject all sends nothing at all: the separate category is withdrawn with the rest', async () => {
  const b = await opened();
  click($(b.doc, '#consent-reject-all'));
  await b.settle();
  assert.deepEqual(bodies(b), [{ categories: [], method: 'banner' }]);
});

test('the second layer asks it apart: ticking it and saving names it in "separate" too', async () => {
  const b = await opened();
  click($(b.doc, '#consent-customize'));
  await b.settle();
  const box = $(b.doc, 'input[value="transfer"]');
  assert.deepEqual([box.checked, box.disabled], [false, false]);
  assert.match($(b.doc, '#consent-s-transfer').textContent, /^Transfer abroad needs your separate consent/);
  box.checked = true;
  click($(b.doc, '#consent-save'));
  await b.settle();
  assert.deepEqual(bodies(b), [{ categories: ['necessary', 'transfer'], separate: ['transfer'], method: 'banner' }]);
});

test('a second-layer save without it sends an empty "separate": the server withdraws it if granted', async () => {
  const b = await opened();
  click($(b.doc, '#consent-customize'));
  await b.settle();
  $(b.doc, 'input[value="analytics"]').checked = true;
  click($(b.doc, '#consent-save'));
  await b.settle();
  assert.deepEqual(bodies(b), [{ categories: ['necessary', 'analytics'], separate: [], method: 'banner' }]);
});

test('a decided visitor who granted it sees it ticked; unticking it is a withdrawal (the page reloads)', async () => {
  const cookie = cookieFor({ r: 3, c: ['necessary', 'transfer'], t: 1 });
  const b = browser({ cookie, state: recorded(['transfer'], BASE) });
  start(b.win, script(), b.layer);
  await b.settle();
  click($(b.doc, '#consent-open'));
  await b.settle();
  const box = $(b.doc, 'input[value="transfer"]');
  assert.equal(box.checked, true);
  box.checked = false;
  click($(b.doc, '#consent-save'));
  await b.settle();
  assert.deepEqual(bodies(b), [{ categories: ['necessary'], separate: [], method: 'banner' }]);
  assert.equal(b.reloads.length, 1);
});
