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

test('PIPL Art 23, 29, 39: a separate category is shown as it stands and locked (the preferences page asks it)', () => {
  const transfer = { name: 'transfer', label: 'Transfer abroad', required: false, gpc: false, separate: true };
  const off = build({ ...STATE, categories: [...STATE.categories, transfer] }).querySelector('input[value="transfer"]');
  assert.deepEqual([off.checked, off.disabled], [false, true]);
  const on = build({ ...STATE, granted: ['necessary', 'transfer'], categories: [...STATE.categories, transfer] })
    .querySelector('input[value="transfer"]');
  // Checked and disabled: the banner's Save sends it back unchanged.
  assert.deepEqual([on.checked, on.disabled], [true, true]);
  assert.doesNotMatch(on.closest('div').textContent, /Global Privacy Control/);
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
