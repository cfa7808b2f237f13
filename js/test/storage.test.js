import { test } from 'node:test';
import assert from 'node:assert/strict';
import { start } from '../src/main.js';
import { FakeStorage, STATE, browser, click, cookieFor, recorded, script } from './helpers.js';

// data-consent-storage as consentlib.web.storage writes it for
//   Storage('_hj*', 'analytics'), Storage('theme', 'preferences', kind='local'),
//   Storage('sid.v2', 'necessary', kind='session'), Storage('_ga.*x', 'analytics', kind='local'):
// [area, category, the expression of exactly that category's keys there].
const STORAGE = JSON.stringify([
  ['localStorage', 'analytics', '^(?:(?!(?:theme)$)_hj[\\s\\S]*|(?!(?:theme)$)_ga\\.[\\s\\S]*x)$'],
  ['sessionStorage', 'analytics', '^(?:(?!(?:sid\\.v2)$)_hj[\\s\\S]*)$'],
  ['localStorage', 'preferences', '^(?:theme)$'],
  ['sessionStorage', 'necessary', '^(?:sid\\.v2)$'],
]);

// What a page's scripts stored: declared keys of each category, and keys nobody declared.
const stored = () => ({
  local: new FakeStorage({ _hjTest: '1', _hjSessionUser: '2', theme: 'dark', '_ga.1x': 'a', '_gaX1x': 'b', _HJTEST: 'c', mine: 'd' }),
  session: new FakeStorage({ _hjSession: '1', 'sid.v2': 's', other: 'o' }),
});

const $ = (doc, sel) => doc.querySelector(sel);

test('Reject all removes the refused categories\' declared keys from both areas; undeclared keys stay', async () => {
  const { local, session } = stored();
  const b = browser({ local, session });
  start(b.win, script({ consentStorage: STORAGE }), b.layer);
  await b.settle();
  click($(b.doc, '#consent-reject-all'));
  await b.settle();
  // A glob matches as the browser stores the key: case and all, and its "." is a dot.
  assert.deepEqual(Object.keys(local).sort(), ['_HJTEST', '_gaX1x', 'mine']);
  // The required category's key stays (every granted set holds it); so does an undeclared one.
  assert.deepEqual(Object.keys(session).sort(), ['other', 'sid.v2']);
});

test('a choice removes only what it refuses: analytics granted keeps its keys, preferences refused loses its own', async () => {
  const { local, session } = stored();
  const b = browser({ local, session });
  start(b.win, script({ consentStorage: STORAGE }), b.layer);
  await b.settle();
  click($(b.doc, '#consent-customize'));
  await b.settle();
  b.doc.querySelector('input[value="analytics"]').checked = true;
  click($(b.doc, '#consent-save'));
  await b.settle();
  assert.deepEqual(Object.keys(local).sort(), ['_HJTEST', '_ga.1x', '_gaX1x', '_hjSessionUser', '_hjTest', 'mine']);
  assert.deepEqual(Object.keys(session).sort(), ['_hjSession', 'other', 'sid.v2']);
});

test('every page load of a decided visitor removes the keys of what is not granted (a refusal made elsewhere counts)', async () => {
  // Refused on the no-JS preferences page, or in another tab: the cookie says so, the keys linger.
  const { local, session } = stored();
  const b = browser({ local, session, cookie: cookieFor({ r: 3, c: ['necessary', 'preferences'], t: 1 }) });
  start(b.win, script({ consentStorage: STORAGE }), b.layer);
  await b.settle();
  assert.equal(b.calls.length, 0, 'no request for it');
  assert.deepEqual(Object.keys(local).sort(), ['_HJTEST', '_gaX1x', 'mine', 'theme']);
  assert.deepEqual(Object.keys(session).sort(), ['other', 'sid.v2']);
});

test('a decided visitor whose cookie is of an older revision: what the server says is granted decides', async () => {
  const { local, session } = stored();
  const b = browser({ local, session, cookie: cookieFor({ r: 2, c: ['necessary', 'analytics'], t: 1 }), state: recorded([]) });
  start(b.win, script({ consentStorage: STORAGE }), b.layer);
  await b.settle();
  assert.ok(!('_hjTest' in local));
});

test('withdrawal: the keys are gone before the page reloads', async () => {
  const { local, session } = stored();
  const cookie = cookieFor({ r: 3, c: ['necessary', 'analytics'], t: 1 });
  const b = browser({ local, session, cookie, state: recorded(['analytics']) });
  const atReload = [];
  b.win.location.reload = () => atReload.push(Object.keys(local).sort());
  start(b.win, script({ consentStorage: STORAGE }), b.layer);
  await b.settle();
  assert.ok('_hjTest' in local, 'granted: kept');
  click($(b.doc, '#consent-open'));
  await b.settle();
  b.doc.querySelector('input[value="analytics"]').checked = false;
  click($(b.doc, '#consent-save'));
  await b.settle();
  assert.deepEqual(atReload, [['_HJTEST', '_gaX1x', 'mine']]);
});

test('where the browser blocks site data, nothing breaks: the choice is still recorded and applied', async () => {
  const b = browser();
  Object.defineProperty(b.win, 'localStorage', { get() { throw new Error('SecurityError'); } });
  start(b.win, script({ consentStorage: STORAGE }), b.layer);
  await b.settle();
  click($(b.doc, '#consent-accept-all'));
  await b.settle();
  assert.equal($(b.doc, '#consent-banner'), null);
  assert.equal($(b.doc, 'img').getAttribute('src'), '/px.gif');
});

for (const [id, attr] of [['no attribute (a policy without storage)', undefined], ['unreadable', '{'], ['an object, not a list', '{"a":1}']]) {
  test(`data-consent-storage ${id}: nothing is removed, and the banner works`, async () => {
    const { local, session } = stored();
    const b = browser({ local, session });
    start(b.win, script(attr === undefined ? {} : { consentStorage: attr }), b.layer);
    await b.settle();
    click($(b.doc, '#consent-reject-all'));
    await b.settle();
    assert.deepEqual(Object.keys(local).length, 7);
    assert.equal($(b.doc, '#consent-banner'), null);
  });
}

test('an undecided visitor\'s keys are not touched before a choice (nothing is decided yet)', async () => {
  const { local, session } = stored();
  const b = browser({ local, session, state: STATE });
  start(b.win, script({ consentStorage: STORAGE }), b.layer);
  await b.settle();
  assert.equal(Object.keys(local).length, 7);
});

// A key named like a Storage member ("key", "length"), which Object.keys would hide, is
// checked in real Chromium (tests/e2e/test_storage_separate_e2e.py).
