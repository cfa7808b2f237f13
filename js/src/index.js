// Bundle entry: document.currentScript is only set while this file first runs.
// CUSTOMIZE_CHUNK is the second layer's hashed file name, written in by build.mjs.
import { start } from './main.js';

const me = document.currentScript;
start(window, me, () =>
  new Promise((ok, fail) => {
    // Next to this script, and with its nonce, so that the same CSP admits both.
    const s = document.createElement('script');
    s.src = new URL(CUSTOMIZE_CHUNK, me.src);
    s.nonce = me.nonce;
    // A chunk that ran without handing over its builder fails in customize(), as a load would.
    s.onload = () => ok(s.layer);
    s.onerror = fail;
    document.head.append(s);
  }),
);
