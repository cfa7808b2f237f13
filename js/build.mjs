// Builds the banner into consentlib/static/ (or the folder given as the first argument):
// banner.<hash>.js, banner.<hash>.css and manifest.json, where <hash> is the first 10 hex
// digits of the SHA-256 of the file's bytes. Deterministic: the same source and the same
// (locked) esbuild give the same bytes, so CI can rebuild and compare.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT = resolve(here, '..', 'consentlib', 'static');

const common = {
  bundle: true,
  minify: true,
  write: false,
  charset: 'utf8',
  legalComments: 'none',
  logLevel: 'warning',
};

/** Build into `out`; returns the manifest. Old banner.*.js/css files there are removed. */
export async function buildInto(out) {
  const [js, css] = await Promise.all([
    build({ ...common, entryPoints: [join(here, 'src', 'index.js')], format: 'iife', target: 'es2020' }),
    build({ ...common, entryPoints: [join(here, 'src', 'banner.css')], target: 'chrome90' }),
  ]);
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (/^banner\.[0-9a-f]+\.(js|css)$/.test(f)) rmSync(join(out, f));
  const manifest = {};
  for (const [name, result] of [['banner.js', js], ['banner.css', css]]) {
    const bytes = result.outputFiles[0].contents;
    const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 10);
    const file = name.replace('.', `.${hash}.`);
    writeFileSync(join(out, file), bytes);
    manifest[name] = file;
  }
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] || DEFAULT_OUT);
  const manifest = await buildInto(out);
  console.log(`built ${Object.values(manifest).join(', ')} into ${out}`);
}
