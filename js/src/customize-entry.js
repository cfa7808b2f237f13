// Entry of the lazily loaded second-layer chunk. It loads its stylesheet (next to this
// file: a <link>, so CSP style-src 'self' holds) and hands the banner a promise of its
// builder through its own <script> element (document.currentScript is set only while this
// file first runs), so no global name is taken. CUSTOMIZE_CSS is written in by build.mjs.
import { categories } from './customize.js';

const me = document.currentScript;
const css = document.createElement('link');
css.rel = 'stylesheet';
css.href = new URL(CUSTOMIZE_CSS, me.src);
// Shown only once styled: an unstyled flash of checkboxes and tables is no help to anyone.
me.layer = new Promise((ok, fail) => {
  css.onload = () => ok(categories);
  css.onerror = fail;
});
document.head.append(css);
