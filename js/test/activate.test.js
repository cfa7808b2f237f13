import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activate } from '../src/dom.js';
import { browser } from './helpers.js';

test('gated scripts of granted categories become real scripts; others stay inert', () => {
  const { doc } = browser();
  activate(doc, ['necessary', 'analytics']);
  const s = doc.querySelector('script[data-consent="analytics"]');
  assert.equal(s.getAttribute('type'), null);
  assert.equal(s.getAttribute('src'), '/a.js');
  assert.equal(s.hasAttribute('data-consent-src'), false);
  assert.equal(s.getAttribute('class'), 'keep');
  assert.equal(s.nonce, 'n0nce');
  assert.equal(doc.querySelector('script[data-consent="marketing"]').getAttribute('type'), 'text/plain');
  assert.equal(doc.querySelector('img').hasAttribute('src'), false);
  assert.equal(doc.querySelector('iframe').getAttribute('src'), '/frame.html');
});

test('inline gated scripts keep their text; images get their source', () => {
  const { doc } = browser();
  activate(doc, ['marketing']);
  const s = doc.querySelector('script[data-consent="marketing"]');
  assert.equal(s.getAttribute('type'), null);
  assert.equal(s.textContent, 'window.ran = 1');
  assert.equal(doc.querySelector('img').getAttribute('src'), '/px.gif');
  assert.equal(doc.querySelector('iframe').hasAttribute('src'), false);
});

test('a script names several categories: all must be granted; activation happens once', () => {
  const { doc } = browser({ html: '<html><body><script type="text/plain" data-consent="analytics marketing">x()</script></body></html>' });
  activate(doc, ['analytics']);
  assert.equal(doc.querySelector('script').getAttribute('type'), 'text/plain');
  activate(doc, ['analytics', 'marketing']);
  const first = doc.querySelector('script');
  assert.equal(first.getAttribute('type'), null);
  activate(doc, ['analytics', 'marketing']);
  assert.equal(doc.querySelector('script'), first);
  assert.equal(doc.querySelectorAll('script').length, 1);
});
