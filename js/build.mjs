// Builds the banner into consentlib/web/static/ (or the folder given as the first argument):
// banner.<hash>.js and banner.<hash>.css (what a page loads), banner-customize.<hash>.js
// and .css (the second layer, loaded only when a visitor opens "Customize"), pages.<hash>.css
// (consentlib's own pages: preferences, receipts) and manifest.json, where
// <hash> is the first 10 hex digits of the SHA-256 of the file's bytes. Deterministic: the
// same source and the same (locked) esbuild give the same bytes, so CI can rebuild and
// compare.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT = resolve(here, '..', 'consentlib', 'web', 'static');
/** What a page loads on first paint: the size budget counts these two. */
export const FIRST_LOAD = ['banner.js', 'banner.css'];

const common = {
  bundle: true,
  minify: true,
  write: false,
  charset: 'utf8',
  legalComments: 'none',
  logLevel: 'warning',
};
const script = (entry, define) =>
  build({ ...common, entryPoints: [join(here, 'src', entry)], format: 'iife', target: 'es2020', define });
const style = (entry) => build({ ...common, entryPoints: [join(here, 'src', entry)], target: 'chrome90' });

const hashed = (name, bytes) => name.replace('.', `.${createHash('sha256').update(bytes).digest('hex').slice(0, 10)}.`);

/** Build into `out`; returns the manifest. Old banner*.<hash> and pages.<hash> files there are removed. */
export async function buildInto(out) {
  // Each file names the next one's hash: customize.css <- banner-customize.js <- banner.js,
  // all found next to the banner's own file.
  const [css, layerCss, pagesCss] = await Promise.all([style('banner.css'), style('customize.css'), style('pages.css')]);
  const layerCssFile = hashed('banner-customize.css', layerCss.outputFiles[0].contents);
  const layer = await script('customize-entry.js', { CUSTOMIZE_CSS: JSON.stringify(layerCssFile) });
  const layerFile = hashed('banner-customize.js', layer.outputFiles[0].contents);
  const js = await script('index.js', { CUSTOMIZE_CHUNK: JSON.stringify(layerFile) });
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (/^(banner|banner-customize|pages)\.[0-9a-f]+\.(js|css)$/.test(f)) rmSync(join(out, f));
  const manifest = {};
  const files = [['banner.js', js], ['banner.css', css], ['banner-customize.js', layer], ['banner-customize.css', layerCss], ['pages.css', pagesCss]];
  for (const [name, result] of files) {
    const bytes = result.outputFiles[0].contents;
    const file = hashed(name, bytes);
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
