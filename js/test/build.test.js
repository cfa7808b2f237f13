// CI rebuilds the banner and fails when consentlib/web/static does not match the source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DEFAULT_OUT, FIRST_LOAD, buildInto } from '../build.mjs';

const STALE = 'consentlib/web/static is stale: run `npm run build` in js/ and commit consentlib/web/static';

test('the committed build output equals a fresh build of the source', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'consentlib-build-'));
  try {
    const manifest = await buildInto(tmp);
    const committed = readdirSync(DEFAULT_OUT).filter((f) => f != '.gitignore').sort();
    assert.deepEqual(committed, readdirSync(tmp).sort(), STALE);
    for (const f of committed) {
      assert.ok(readFileSync(join(DEFAULT_OUT, f)).equals(readFileSync(join(tmp, f))), `${f}: ${STALE}`);
    }
    assert.deepEqual(Object.keys(manifest), ['banner.js', 'banner.css', 'banner-customize.js', 'banner-customize.css', 'pages.css']);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the build is deterministic and names files by the first 10 hex digits of their SHA-256', async () => {
  const a = mkdtempSync(join(tmpdir(), 'consentlib-build-'));
  const b = mkdtempSync(join(tmpdir(), 'consentlib-build-'));
  try {
    const [ma, mb] = [await buildInto(a), await buildInto(b)];
    assert.deepEqual(ma, mb);
    const { createHash } = await import('node:crypto');
    for (const f of Object.values(ma)) {
      const bytes = readFileSync(join(a, f));
      assert.ok(bytes.equals(readFileSync(join(b, f))));
      assert.equal(f.split('.')[1], createHash('sha256').update(bytes).digest('hex').slice(0, 10));
    }
    // A rebuild into the same folder leaves exactly one hashed file of each kind.
    await buildInto(a);
    assert.equal(readdirSync(a).length, 6);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

const manifest = () => JSON.parse(readFileSync(join(DEFAULT_OUT, 'manifest.json'), 'utf8'));
const gzipped = (names) => names.reduce((n, name) => n + gzipSync(readFileSync(join(DEFAULT_OUT, manifest()[name])), { level: 9 }).length, 0);

test('size: what a page loads on first paint (banner.js + banner.css) is at most 4096 bytes gzip', () => {
  const total = gzipped(FIRST_LOAD);
  assert.ok(total <= 4096, `banner.js + banner.css are ${total} bytes gzip, over the 4096-byte budget`);
});

test('size: the second layer, loaded on "Customize" only, is at most 2048 bytes gzip', () => {
  const total = gzipped(['banner-customize.js', 'banner-customize.css']);
  assert.ok(total <= 2048, `banner-customize.js + .css are ${total} bytes gzip, over the 2048-byte budget`);
});

test('the banner names its second layer by hash, and the second layer its stylesheet', () => {
  const m = manifest();
  const read = (name) => readFileSync(join(DEFAULT_OUT, m[name]), 'utf8');
  assert.ok(read('banner.js').includes(JSON.stringify(m['banner-customize.js'])));
  assert.ok(read('banner-customize.js').includes(JSON.stringify(m['banner-customize.css'])));
});

test('the built scripts use no eval, no Function constructor, no innerHTML, no style attribute', () => {
  for (const name of ['banner.js', 'banner-customize.js']) {
    const js = readFileSync(join(DEFAULT_OUT, manifest()[name]), 'utf8');
    for (const bad of [/\beval\(/, /new Function\b/, /innerHTML/, /outerHTML/, /insertAdjacentHTML/, /\.style\b/, /["']style["']/, /document\.write/]) {
      assert.doesNotMatch(js, bad, name);
    }
  }
});
