// CI rebuilds the banner and fails when consentlib/static does not match the source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DEFAULT_OUT, buildInto } from '../build.mjs';

const STALE = 'consentlib/static is stale: run `npm run build` in js/ and commit consentlib/static';

test('the committed build output equals a fresh build of the source', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'consentlib-build-'));
  try {
    const manifest = await buildInto(tmp);
    const committed = readdirSync(DEFAULT_OUT).filter((f) => f != '.gitignore').sort();
    assert.deepEqual(committed, readdirSync(tmp).sort(), STALE);
    for (const f of committed) {
      assert.ok(readFileSync(join(DEFAULT_OUT, f)).equals(readFileSync(join(tmp, f))), `${f}: ${STALE}`);
    }
    assert.deepEqual(Object.keys(manifest), ['banner.js', 'banner.css']);
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
    assert.equal(readdirSync(a).length, 3);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('size: banner.js + banner.css are at most 5120 bytes gzip together', () => {
  const manifest = JSON.parse(readFileSync(join(DEFAULT_OUT, 'manifest.json'), 'utf8'));
  const total = Object.values(manifest).reduce((n, f) => n + gzipSync(readFileSync(join(DEFAULT_OUT, f)), { level: 9 }).length, 0);
  assert.ok(total <= 5120, `banner is ${total} bytes gzip, over the 5120-byte budget`);
});

test('the built script uses no eval, no Function constructor, no innerHTML, no style attribute', () => {
  const manifest = JSON.parse(readFileSync(join(DEFAULT_OUT, 'manifest.json'), 'utf8'));
  const js = readFileSync(join(DEFAULT_OUT, manifest['banner.js']), 'utf8');
  for (const bad of [/\beval\(/, /new Function\b/, /innerHTML/, /outerHTML/, /insertAdjacentHTML/, /\.style\b/, /["']style["']/, /document\.write/]) {
    assert.doesNotMatch(js, bad);
  }
});
