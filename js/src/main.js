// The banner's controller: Consent Mode default at once, then (DOM ready) the visitor's
// state from the consent cookie or the endpoint, the dialog, and the "Privacy choices"
// control. The server is the authority; this is a view over its endpoint.
import { TEXTS, pickLang, readCookie, parseMode, modeState, narrowed } from './logic.js';
import { h, activate, dialog } from './dom.js';

/** Start the banner in `win`; `script` is the banner's own <script> (its data-* configure it). */
export function start(win, script) {
  const doc = win.document;
  const data = (script && script.dataset) || {};
  const endpoint = data.consentEndpoint || '/_consent/';
  const revision = Number(data.consentRevision);
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
  const update = (g) => cm && gtag('consent', 'update', modeState(g, mapping));
  // Before any tag fires (RULES.md, Consent Mode v2): everything denied.
  if (cm) gtag('consent', 'default', { ...modeState([], mapping), wait_for_update: 500 });

  const json = (r) => {
    if (!r.ok) throw new Error('consent endpoint: HTTP ' + r.status);
    return r.json();
  };
  const load = () =>
    win.fetch(endpoint, { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(json);
  const post = (names) =>
    win
      .fetch(endpoint, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ categories: names, method: 'banner' }),
      })
      .then(json);
  const apply = (g) => {
    granted = g;
    update(g);
    activate(doc, g);
    doc.dispatchEvent(new win.CustomEvent('consentchange', { detail: { granted: g } }));
  };
  const done = (s) => {
    if (granted && narrowed(granted, s.granted)) {
      // Withdrawal: scripts already running cannot be stopped; a fresh page load lets the
      // server expire the withdrawn categories' cookies (DESIGN.md, Gating rules).
      update(s.granted);
      win.location.reload();
    } else apply(s.granted);
  };

  const run = () => {
    const t = TEXTS[pickLang(doc.documentElement.lang)];
    const ui = dialog(doc, t, endpoint, gpcNav, post, done);
    let open = doc.getElementById('consent-open');
    if (!open) doc.body.append((open = h(doc, 'button', { type: 'button', id: 'consent-open', class: 'cl-open' }, t.title)));
    open.addEventListener('click', (e) => {
      // A page's own #consent-open may be a link to the no-JS preferences page.
      e.preventDefault();
      load().then(
        (s) => {
          if (s.decided) granted = s.granted;
          ui.open(s, s.decided);
        },
        // Withdrawal must stay possible (GDPR Art 7(3)): fall back to the no-JS form.
        () => win.location.assign(endpoint + 'preferences'),
      );
    });
    const ck = readCookie(doc.cookie);
    // A decided visitor of this revision needs no request; with GPC on, the server must
    // say which categories the signal takes away.
    if (ck && ck.r === revision && !gpcNav) apply(ck.c);
    else load().then((s) => (s.decided ? apply(s.granted) : ui.open(s, false)), () => {});
  };
  if (doc.readyState == 'loading') doc.addEventListener('DOMContentLoaded', run);
  else run();
}
