import { test } from 'node:test';
import assert from 'node:assert/strict';
import { categories } from '../src/customize.js';
import { DECLARATION, STATE, browser, layerTextsOf, textsOf } from './helpers.js';

// The banner hands the second layer its tag's texts and declaration.json in the same language.
const build = (state = STATE, { gpc = false, lang = 'en', declaration = { ...DECLARATION, texts: layerTextsOf(lang) } } = {}) => {
  const { doc } = browser();
  return categories(doc, textsOf(lang), state, gpc, declaration);
};

test('GDPR: consent per purpose: one checkbox per category, none pre-ticked, required ones on and locked', () => {
  const f = build();
  const boxes = [...f.querySelectorAll('input[name="category"]')];
  assert.deepEqual(boxes.map((i) => i.value), ['necessary', 'preferences', 'analytics', 'marketing']);
  assert.deepEqual(boxes.map((i) => i.checked), [true, false, false, false]);
  assert.deepEqual(boxes.map((i) => i.disabled), [true, false, false, false]);
  assert.equal(boxes[1].getAttribute('aria-describedby'), 'consent-d-preferences');
  assert.match(f.textContent, /\(always on\)/);
});

test('GPC locks gpc categories off, with the words', () => {
  const f = build({ ...STATE, granted: ['necessary', 'marketing'] }, { gpc: true });
  const m = f.querySelector('input[value="marketing"]');
  assert.equal(m.checked, false);
  assert.equal(m.disabled, true);
  assert.match(f.textContent, /\(off: Global Privacy Control\)/);
});

const TRANSFER = { name: 'transfer', label: 'Transfer abroad', required: false, gpc: false, separate: true };
const withTransfer = (granted = ['necessary']) => ({ ...STATE, granted, categories: [...STATE.categories, TRANSFER] });

test('PIPL Art 23, 29, 39: a separate category is asked apart, in place: its own sentence, unticked, enabled', () => {
  const f = build(withTransfer());
  const box = f.querySelector('input[value="transfer"]');
  assert.deepEqual([box.checked, box.disabled], [false, false]);
  const sentence = f.querySelector('#consent-s-transfer');
  // The preferences page's words (separate_consent), with the category's label in them.
  assert.equal(sentence.textContent, 'Transfer abroad needs your separate consent: it is on only when you tick it here and save your choices. “Accept all” leaves it off.');
  assert.ok(sentence.closest('.cl-i').contains(box), 'the sentence sits with its checkbox');
  assert.equal(box.getAttribute('aria-describedby'), 'consent-s-transfer');
  // Only the separate category says so.
  assert.equal(f.querySelectorAll('[id^="consent-s-"]').length, 1);
});

test('a separate category already granted is ticked; GPC still locks a gpc one off', () => {
  assert.equal(build(withTransfer(['necessary', 'transfer'])).querySelector('input[value="transfer"]').checked, true);
  const state = { ...withTransfer(['necessary', 'transfer']), categories: [...STATE.categories, { ...TRANSFER, gpc: true }] };
  const box = build(state, { gpc: true }).querySelector('input[value="transfer"]');
  assert.deepEqual([box.checked, box.disabled], [false, true]);
});

test('a label with "$&" stays text in the separate sentence', () => {
  const state = { ...STATE, categories: [...STATE.categories, { ...TRANSFER, label: 'A $& B' }] };
  assert.match(build(state).querySelector('#consent-s-transfer').textContent, /^A \$& B needs/);
});

test('pick(): the ticked categories, and of them the separate ones apart', () => {
  const f = build(withTransfer());
  assert.deepEqual(f.pick(), [['necessary'], []]);
  f.querySelector('input[value="analytics"]').checked = true;
  f.querySelector('input[value="transfer"]').checked = true;
  assert.deepEqual(f.pick(), [['necessary', 'analytics', 'transfer'], ['transfer']]);
});

test('Simplified Chinese: the separate sentence in the declaration\'s language', () => {
  const f = build(withTransfer(), { lang: 'zh-Hans' });
  assert.equal(f.querySelector('#consent-s-transfer').textContent, '“Transfer abroad”需要您单独同意：只有在您于此处勾选并保存选择后才会开启。“全部接受”不会开启它。');
});

test('ePrivacy Art 5(3): declared storage keys are listed under their category, with where they are kept', () => {
  const storage = [
    { name: '_hj*', glob: true, category: 'analytics', purpose: 'Heatmaps', areas: ['localStorage', 'sessionStorage'], third_party: 'Hotjar' },
    { name: 'theme', glob: false, category: 'preferences', purpose: 'Your colour scheme', areas: ['localStorage'], third_party: '' },
  ];
  const f = build(STATE, { declaration: { ...DECLARATION, storage } });
  const rows = (id) => [...f.querySelectorAll(`#${id} tbody tr`)].map((tr) => [...tr.children].map((td) => td.textContent));
  assert.deepEqual(rows('consent-cookies-analytics'), [
    ['_ga*', 'Counts visits', '2 years', 'Google'],
    ['_hj*', 'Heatmaps', 'localStorage, sessionStorage', 'Hotjar'],
  ]);
  // A category with storage keys only has a table too, not "No cookies."
  assert.deepEqual(rows('consent-cookies-preferences'), [['theme', 'Your colour scheme', 'localStorage', 'this site']]);
});

test('ePrivacy Art 5(3): each cookie\'s name, purpose, lifetime and who sets it, under its category', () => {
  const f = build();
  const cells = (id) => [...f.querySelectorAll(`#${id} tbody td`)].map((td) => td.textContent);
  assert.deepEqual(cells('consent-cookies-marketing'), ['_fbp', 'Ad measurement', '90 days', 'Meta']);
  assert.deepEqual(cells('consent-cookies-necessary'), ['sid', 'Keeps you signed in', 'session', 'this site']);
  // Each table sits in its category's item, after the description.
  const item = f.querySelector('#consent-cookies-analytics').parentNode;
  assert.ok(item.querySelector('input[value="analytics"]'));
});

test('server text stays text: a cookie purpose with markup is shown, never parsed', () => {
  const declaration = { ...DECLARATION, cookies: [{ name: 'x', category: 'analytics', purpose: '<img src=x onerror=alert(1)>', lifetime: '1 day' }] };
  const f = build(STATE, { declaration });
  assert.equal(f.querySelector('img'), null);
  assert.equal(f.querySelector('#consent-cookies-analytics tbody td:nth-child(2)').textContent, '<img src=x onerror=alert(1)>');
});

test('Simplified Chinese: legend, headers, "this site" and "no cookies"', () => {
  const f = build(STATE, { lang: 'zh-Hans' });
  assert.equal(f.querySelector('legend').textContent, '类别');
  assert.deepEqual([...f.querySelectorAll('#consent-cookies-analytics th')].map((th) => th.textContent), ['Cookie', '用途', '有效期', '设置方']);
  assert.match(f.textContent, /本网站/);
  assert.match(f.textContent, /无 Cookie。/);
  assert.match(f.textContent, /（始终开启）/);
});

for (const [id, declaration] of [
  ['no declaration', null],
  ['a declaration without texts (an older server)', { ...DECLARATION, texts: undefined }],
  ['texts that are not an object', { ...DECLARATION, texts: 'Categories' }],
]) {
  test(`without the second layer's texts there is no second layer: ${id}`, () => {
    // The banner turns the throw into its fallback, the no-JS preferences page.
    assert.throws(() => build(STATE, { declaration }), /declaration\.json has no texts/);
  });
}
