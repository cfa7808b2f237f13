// The banner's controller: Consent Mode default at once, then (DOM ready) the visitor's
// state from the consent cookie or the endpoint, the dialog, and the "Privacy choices"
// control. The server is the authority; this is a view over its endpoint.
import { parseTexts, readCookie, parseMode, modeState, narrowed, once } from './logic.js';
import { h, activate, dialog } from './dom.js';

/**
 * Start the banner in `win`; `script` is the banner's own <script> (its data-* configure
 * it). `loadLayer()` gives a promise of the second layer's builder (customize.js's
 * `categories`): the bundle loads its chunk then, the unit tests import it.
 */
export function start(win, script, loadLayer) {
  const doc = win.document;
  const data = (script && script.dataset) || {};
  const endpoint = data.consentEndpoint || '/_consent/';
  // A string: compared with == to the cookie's number.
  const revision = data.consentRevision;
  const notice = data.consentNotice || '/privacy';
  const prefs = endpoint + 'preferences';
  // The server chose the language (consentlib.web.language) and put the first layer's texts
  // in the tag.
  const t = parseTexts(data.consentTexts);
  t.lang = data.consentLang || 'en';
  t.dir = data.consentDir == 'rtl' ? 'rtl' : 'ltr';
  const mapping = parseMode(data.consentMode);
  const gpcNav = win.navigator.globalPrivacyControl === true;
  let granted = null; // the recorded choice (effective set), once known

  // Consent Mode v2 only where the page uses Google's tag, or asks for it.
  const cm = typeof win.gtag == 'function' || Array.isArray(win.dataLayer) || !!data.consentMode;
  function gtag() {
    // gtag.js reads Arguments objects from the dataLayer, not arrays.
    if (typeof win.gtag == 'function') win.gtag.apply(win, arguments);
    else (win.dataLayer = win.dataLayer || []).push(arguments);
  }
  // The Web Storage keys the policy declares: [area, category, an expression that matches
  // exactly the category's keys there] (only on a site that declares some; consentlib.web.storage).
  const stored = parseTexts(data.consentStorage, []);
  const update = (g) => {
    // ePrivacy Art 5(3) covers Web Storage as it covers cookies: what a category not granted
    // stored goes, on a refusal and on every page load of a decided visitor (so a refusal
    // on the preferences page, in another tab or before a new revision counts too), and
    // before a withdrawal's reload. Keys no category declares stay. Where the browser
    // blocks site data, reading it throws (both areas at once): nothing to remove then.
    // Keys by key(i), not Object.keys: that one hides a key named like a Storage member
    // ("key", "length"), as the browser stores it all the same.
    try {
      for (const [a, c, r] of stored)
        if (!g.includes(c)) {
          const s = win[a];
          for (const k of Array.from({ length: s.length }, (_, i) => s.key(i))) RegExp(r).test(k) && s.removeItem(k);
        }
    } catch {}
    cm && gtag('consent', 'update', modeState(g, mapping));
  };
  // Before any tag fires (docs/rules.md, Google Consent Mode v2): everything denied.
  if (cm) gtag('consent', 'default', { ...modeState([], mapping), wait_for_update: 500 });

  const json = (r) => {
    // The failed response itself is the reason: every caller only needs to know it failed.
    if (!r.ok) throw r;
    return r.json();
  };
  // JSON both ways (the endpoints answer JSON whatever the Accept). fetch sends the site's
  // cookies to its own origin by default (credentials: 'same-origin'); a Content-Type on
  // a GET is harmless.
  const call = (path, init) =>
    win.fetch(endpoint + path, { ...init, headers: { 'Content-Type': 'application/json' } }).then(json);
  const load = () => call('');
  // `separate`: the separate categories the second layer asked apart and the visitor ticked
  // (PIPL Art 23, 29, 39); "Accept all" and "Reject all" send none (docs/http.md).
  const post = (categories, separate) => call('', { method: 'POST', body: JSON.stringify({ categories, separate, method: 'banner' }) });
  // Fetched on the first "Customize" only, once per page.
  const layer = once(loadLayer);
  // The second layer's texts are not in the tag (the first paint never shows them): the
  // declaration carries them, asked in the tag's language (docs/http.md, declaration.json;
  // a language tag is letters, digits and hyphens, nothing to escape in a query).
  const declaration = once(() => call('declaration.json?lang=' + t.lang));
  // Without the declaration (and its texts) there is no second layer to show: the promise
  // fails, and the visitor is sent to the no-JS preferences page (fallback) instead.
  const customize = (s, gpc) => Promise.all([layer(), declaration()]).then(([build, d]) => build(doc, t, s, gpc, d));
  // Withdrawal must stay possible (GDPR Art 7(3)): when the banner cannot, the no-JS form can.
  const fallback = () => win.location.assign(prefs);
  const apply = (g) => {
    granted = g;
    update(g);
    activate(doc, g);
    doc.dispatchEvent(new win.CustomEvent('consentchange', { detail: { granted: g } }));
  };
  const done = (s) => {
    if ((granted && narrowed(granted, s.granted)) || s.reload) {
      // Withdrawal: scripts already running cannot be stopped; a fresh page load lets the
      // server expire the withdrawn categories' cookies (docs/http.md, Gating rules).
      // `reload`: the server's Content-Security-Policy for this page (third_party_csp,
      // sent before the choice) refuses the hosts just granted; only a new page gets one
      // that allows them (docs/third-parties.md).
      update(s.granted);
      win.location.reload();
    } else apply(s.granted);
  };

  const run = () => {
    const show = dialog(doc, t, [prefs, notice], gpcNav, post, done, customize, fallback);
    let open = doc.getElementById('consent-open');
    if (!open) doc.body.append((open = h(doc, 'button', { type: 'button', id: 'consent-open', class: 'cl-open', lang: t.lang, dir: t.dir }, t.title)));
    open.addEventListener('click', (e) => {
      // A page's own #consent-open may be a link to the no-JS preferences page.
      e.preventDefault();
      // A decided visitor reopens straight onto the second layer, shown once it is complete.
      load()
        .then((s) => {
          if (!s.decided) return show(s);
          granted = s.granted;
          return customize(s, gpcNav || !!s.gpc).then((cats) => show(s, cats));
        })
        .catch(fallback);
    });
    // The server names the consent cookie __Host- (or __Secure-) over https, and reads no
    // other there: neither does the banner (a visitor upgraded from http is asked again).
    const ck = readCookie(doc.cookie, win.location.protocol == 'https:');
    // A decided visitor of this revision needs no request; with GPC on, the server must
    // say which categories the signal takes away.
    if (ck?.r == revision && !gpcNav) apply(ck.c);
    // A notice (notice_only, docs/regions.md) dismissed this session is not shown again,
    // but what the server granted runs as it does for a decided visitor. (Where the
    // browser blocks all site data, reading it throws: nothing runs and no notice shows.)
    else load().then((s) => (s.decided || (s.notice_only && win.sessionStorage.clNotice) ? apply(s.granted) : show(s)), () => {});
  };
  if (doc.readyState == 'loading') doc.addEventListener('DOMContentLoaded', run);
  else run();
}
