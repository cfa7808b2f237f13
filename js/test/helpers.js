// A tiny browser for the unit tests: linkedom's DOM plus a scripted fetch, a cookie jar,
// focus tracking and location.reload.
import { readFileSync } from 'node:fs';
import { parseHTML } from 'linkedom';
import { categories } from '../src/customize.js';

const compiled = (tag) => JSON.parse(readFileSync(new URL(`../../consentlib/locale/compiled/${tag}.json`, import.meta.url), 'utf8')).texts;
const catalogue = (tag, prefix) =>
  Object.fromEntries(Object.entries(compiled(tag)).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));

/**
 * The banner's first-layer texts of a shipped language as the server puts them in the tag
 * (consentlib.web.tags.banner_texts): the compiled catalogue's banner_* keys, without the
 * prefix, but for a minor's notice (the consent state carries that one: minorNoticeOf).
 */
export const textsOf = (tag) => {
  const { minor, ...texts } = catalogue(tag, 'banner_');
  return texts;
};

/** What GET /_consent/ says to a minor (its `minor_notice`), in a shipped language. */
export const minorNoticeOf = (tag) => compiled(tag).banner_minor;

/**
 * The second layer's texts of a shipped language as declaration.json carries them
 * (consentlib.web.declaration, "texts"): the catalogue's banner2_* keys, without the prefix,
 * and `separate`, the sentence that asks a separate category apart ({label} left in).
 */
export const layerTextsOf = (tag) => ({ ...catalogue(tag, 'banner2_'), separate: compiled(tag).separate_consent });

/** The tag's data-consent-* of the language `tag` (its texts, lang and dir). */
export const langAttrs = (tag, dir = 'ltr') => ({ consentLang: tag, consentDir: dir, consentTexts: JSON.stringify(textsOf(tag)) });

export const STATE = {
  revision: 3,
  decided: false,
  granted: ['necessary'],
  gpc: false,
  minor: false,
  categories: [
    { name: 'necessary', label: 'Strictly necessary', description: 'Keeps the site working.', required: true, gpc: false },
    { name: 'preferences', label: 'Preferences', description: 'Remembers your settings.', required: false, gpc: false },
    { name: 'analytics', label: 'Analytics', description: 'Counts visits.', required: false, gpc: false },
    { name: 'marketing', label: 'Marketing', description: 'Ad measurement.', required: false, gpc: true },
  ],
};

// What GET /_consent/declaration.json answers (only the keys the banner reads, plus some).
export const DECLARATION = {
  schema: 1,
  revision: 3,
  notice_url: '/privacy',
  categories: STATE.categories,
  cookies: [
    { name: 'sid', glob: false, category: 'necessary', purpose: 'Keeps you signed in', lifetime: 'session', third_party: '' },
    { name: '_ga*', glob: true, category: 'analytics', purpose: 'Counts visits', lifetime: '2 years', third_party: 'Google' },
    { name: '_fbp', glob: false, category: 'marketing', purpose: 'Ad measurement', lifetime: '90 days', third_party: 'Meta' },
  ],
  beacons: [],
  etags: null,
  texts: layerTextsOf('en'),
};

/** declaration.json as the server answers `url`: in the language its ?lang= names. */
export const declarationFor = (url) => {
  const lang = new URL(url, 'http://site.example').searchParams.get('lang') || 'en';
  return { ...DECLARATION, language: lang, texts: layerTextsOf(lang) };
};

/**
 * Web Storage as a page sees it: each key an own property (so `s.clNotice = 1` stores one, as
 * in browsers), and the Storage members length, key(i), getItem, setItem and removeItem.
 */
export class FakeStorage {
  constructor(entries = {}) {
    Object.assign(this, entries);
  }
  get length() {
    return Object.keys(this).length;
  }
  key(i) {
    return Object.keys(this)[i] ?? null;
  }
  getItem(k) {
    return Object.hasOwn(this, k) ? this[k] : null;
  }
  setItem(k, v) {
    this[k] = String(v);
  }
  removeItem(k) {
    delete this[k];
  }
}

/** The state the server would answer after recording `names`. */
export function recorded(names, base = STATE) {
  const granted = base.categories
    .filter((c) => c.required || (names.includes(c.name) && !(base.gpc && c.gpc)))
    .map((c) => c.name);
  return { ...base, decided: true, granted };
}

export function cookieFor(payload, name = 'consent') {
  const b64 = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${name}=${b64}.sig-nature`;
}

export const PAGE = `<!doctype html><html lang="en"><head></head><body><main><h1>Page</h1></main>
<script type="text/plain" data-consent="analytics" data-consent-src="/a.js" nonce="n0nce" class="keep"></script>
<script type="text/plain" data-consent="marketing">window.ran = 1</script>
<img data-consent="marketing" data-consent-src="/px.gif" alt="">
<iframe data-consent="analytics" data-consent-src="/frame.html" title="f"></iframe>
</body></html>`;

/**
 * A window with `state` served by GET, `declaration` by GET declaration.json (either may
 * be a function of the URL, and an Error is a failed request; the declaration is by default
 * in the language of the URL's ?lang=) and `recorded()` by POST. Returns
 * { win, doc, calls, reloads, settle, layer }; `layerFails` makes the second layer's load fail;
 * `session` is the tab's sessionStorage and `local` its localStorage (FakeStorage, or plain
 * objects where only their properties are read).
 */
export function browser({ html = PAGE, state = STATE, declaration = declarationFor, cookie = '', gpc, dataLayer, post, layerFails, protocol = 'http:', session = {}, local = new FakeStorage() } = {}) {
  const w = parseHTML(html);
  const doc = w.document;
  // One tab's sessionStorage, as both the window and the document's view see it; pass the
  // same object to two browsers for two pages of one tab.
  w.sessionStorage = session;
  let focused = null;
  Object.defineProperty(doc, 'activeElement', { get: () => focused || doc.body, configurable: true });
  w.HTMLElement.prototype.focus = function () {
    focused = this;
  };
  // As in browsers, `checked` starts from the attribute and then follows the visitor.
  Object.defineProperty(w.HTMLInputElement.prototype, 'checked', {
    get() {
      return this._dirty ? this._checked : this.hasAttribute('checked');
    },
    set(v) {
      this._dirty = true;
      this._checked = !!v;
    },
    configurable: true,
  });
  Object.defineProperty(doc, 'cookie', { get: () => cookie, configurable: true });
  const calls = [];
  const reloads = [];
  const win = {
    document: doc,
    CustomEvent: w.CustomEvent,
    sessionStorage: session,
    // A getter that throws instead is a browser that blocks site data.
    localStorage: local,
    navigator: gpc === undefined ? {} : { globalPrivacyControl: gpc },
    location: { protocol, reload: () => reloads.push(1), assign: (url) => reloads.push(url) },
    fetch: (url, opts = {}) => {
      const body = opts.body ? JSON.parse(opts.body) : null;
      calls.push({ url, method: opts.method || 'GET', body, opts });
      let answer = url.split('?')[0].endsWith('declaration.json') ? declaration : state;
      if (body) answer = post ? post(body) : recorded(body.categories, state);
      else if (typeof answer == 'function') answer = answer(url);
      if (answer instanceof Error) return Promise.reject(answer);
      return Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(answer) });
    },
  };
  if (dataLayer) win.dataLayer = dataLayer;
  const settle = () => new Promise((r) => setTimeout(r, 0));
  // The second layer as the bundle would load it; `layer.loads` counts the loads.
  const layer = () => {
    layer.loads++;
    return layerFails ? Promise.reject(new Error('chunk blocked')) : Promise.resolve(categories);
  };
  layer.loads = 0;
  return { win, doc, calls, reloads, settle, layer, focused: () => focused };
}

export function script(attrs = {}) {
  return { dataset: { consentEndpoint: '/_consent/', consentRevision: '3', ...langAttrs('en'), ...attrs } };
}

export const click = (el) => el.dispatchEvent(new el.ownerDocument.defaultView.Event('click'));
