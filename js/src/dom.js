// DOM work: switching consent-gated elements on, and the dialog itself. Only
// createElement, attributes and textContent: no innerHTML (the server's labels are
// text, never markup) and no style attributes (CSP style-src 'self' forbids them).
import { gpcLocked, purposes } from './logic.js';

/** Build an element: attributes (true -> empty attribute, false/null -> none) and children. */
export function h(doc, tag, attrs, ...kids) {
  const el = doc.createElement(tag);
  for (const k in attrs) {
    const v = attrs[k];
    if (v != null && v !== false) el.setAttribute(k, v === true ? '' : v);
  }
  // Falsy kids are the `cond && el` that did not apply ('' adds nothing either).
  el.append(...kids.filter((k) => k));
  return el;
}

/**
 * Run `<script type="text/plain" data-consent="cat">` of granted categories and swap
 * `data-consent-src` into `src` on `img`/`iframe`. `data-consent` may name several
 * categories (space-separated): all of them must be granted.
 */
export function activate(doc, granted) {
  const ok = (el) => el.dataset.consent.split(/\s+/).every((c) => granted.includes(c));
  for (const old of doc.querySelectorAll('script[type="text/plain"][data-consent]')) {
    if (!ok(old)) continue;
    // Changing the old one's type would not run it: only inserting a script prepares it.
    // A copy keeps every attribute and the text, and can run: a text/plain script is never
    // marked "already started" (HTML, "prepare the script element" returns before that).
    const s = old.cloneNode(true);
    s.removeAttribute('type');
    // Browsers hide the nonce attribute once parsed (it reads ""); the property keeps it.
    if (old.nonce) s.nonce = old.nonce;
    const src = old.dataset.consentSrc;
    if (src) s.src = src;
    s.removeAttribute('data-consent-src');
    // Dynamically inserted external scripts are async by default; keep document order.
    s.async = false;
    old.replaceWith(s);
  }
  for (const el of doc.querySelectorAll('img[data-consent][data-consent-src],iframe[data-consent][data-consent-src]')) {
    if (!ok(el)) continue;
    el.src = el.dataset.consentSrc;
    el.removeAttribute('data-consent-src');
  }
}

/**
 * The dialog: returns `open(state, cats)`, which builds its first layer from the server's state; with
 * `cats` (a reopened dialog) the second layer is shown at once. A choice goes to
 * `post(names, separate)` (`separate` only from the second layer, whose fieldset's `pick()`
 * gives both), a promise of the recorded state: once it resolves the dialog closes and
 * `done(state)` runs; if it rejects the dialog says so and stays open (nothing is
 * granted). "Customize" asks `customize(state, gpc)` for the second layer (a promise of
 * its fieldset, loaded lazily); when that fails, `fallback()` takes the visitor to the
 * no-JavaScript preferences page.
 *
 * A state with `notice_only` (an opt-out or notice region, docs/regions.md) opens as a
 * notice: `done(state)` runs at once (the server granted already), there is no
 * Accept/Reject pair, the state's `opt_out` link comes first, and "Save choices" (before
 * "Customize") or Escape closes it without a request, marking it seen in sessionStorage.
 */
export function dialog(doc, t, links, gpcNav, post, done, customize, fallback) {
  let overlay, dlg, back, reopened, n;

  const focusables = () =>
    [...dlg.querySelectorAll('a[href],button,input')].filter((e) => !e.disabled && !e.closest('[hidden]'));

  const close = () => {
    overlay.remove();
    overlay = null;
    if (back?.isConnected) back.focus?.();
    // A notice closed stays away for the session (after a choice there is none to show).
    // Last: where the browser blocks storage this throws, after the dialog is gone.
    if (n) doc.defaultView.sessionStorage.clNotice = 1;
  };

  // Keep focus inside while the modal dialog is open (WCAG 2.4.3, ARIA APG dialog pattern).
  doc.addEventListener('focusin', (e) => {
    if (overlay && !dlg.contains(e.target)) dlg.focus();
  });

  function open(state, cats) {
    if (overlay) close();
    reopened = !!cats;
    // Where the regime grants before a choice, what the server granted runs at once.
    if ((n = state.notice_only)) done(state);
    back = doc.activeElement;
    const gpc = gpcNav || !!state.gpc;
    const btn = (id, label, attrs) => h(doc, 'button', { type: 'button', id, class: 'cl-b', ...attrs }, label);
    const err = h(doc, 'p', { class: 'cl-e', role: 'alert' });

    let busy, loading, layer;
    const submit = (...choice) => {
      // One receipt per choice: a double click while the first POST is in flight is ignored.
      if (busy) return;
      busy = 1;
      err.textContent = '';
      post(...choice).then(
        (s) => {
          close();
          done(s);
        },
        () => {
          busy = 0;
          err.textContent = t.err;
        },
      );
    };
    const all = state.categories.filter((c) => !gpcLocked(c, gpc)).map((c) => c.name);
    // The first layer: Accept all, Reject all and Customize are the same element with the
    // same class (EDPB cookie-banner taskforce 2023: reject as easy and visible as accept).
    // A minor gets no "Accept all" (GDPR Art 8: only a guardian's consent counts).
    // A notice (docs/regions.md) needs no pair: the server granted already.
    const accept = !state.minor && !n && btn('consent-accept-all', t.accept);
    const reject = !n && btn('consent-reject-all', t.reject);
    const custom = btn('consent-customize', t.custom, { hidden: reopened });
    const save = btn('consent-save', t.save, { hidden: !reopened && !n });
    const show = (fieldset) => {
      err.before((layer = fieldset));
      save.hidden = false;
      custom.hidden = true;
    };
    const on = (el, fn) => el && el.addEventListener('click', fn);
    on(accept, () => submit(all));
    on(reject, () => submit([]));
    // Before the second layer ("Customize" still shown), a notice's "Save" keeps what runs:
    // it dismisses the notice and records nothing (a notice is not a consent).
    // After it, the second layer says what is ticked (its `pick()`, customize.js).
    on(save, () => (custom.hidden ? submit(...layer.pick()) : close()));
    on(custom, () => {
      if (loading) return;
      loading = 1;
      customize(state, gpc).then((fieldset) => {
        show(fieldset);
        (fieldset.querySelector('input:not(:disabled)') || save).focus();
      }, fallback);
    });

    dlg = h(doc, 'div', {
      id: 'consent-banner',
      class: 'cl-d',
      role: 'dialog',
      'aria-modal': 'true',
      'aria-labelledby': 'consent-title',
      'aria-describedby': 'consent-desc',
      tabindex: '-1',
      // The page may be in another language than the banner (the visitor's): say which,
      // for screen readers and fonts, and the direction for Arabic and Hebrew.
      lang: t.lang,
      dir: t.dir,
    },
      h(doc, 'h2', { id: 'consent-title' }, t.title),
      // The purposes, then the preferences page and the privacy notice, one click away
      // (EDPB cookie-banner taskforce 2023; EDPB Guidelines 05/2020 on informed consent).
      h(doc, 'p', { id: 'consent-desc' }, purposes(t, state.categories), ' ',
        h(doc, 'a', { href: links[0] }, t.more), ' · ',
        h(doc, 'a', { href: links[1], id: 'consent-notice' }, t.notice)),
      // Cal. Civ. Code §1798.135(a)(1): the opt-out link, titled by the server, up front.
      state.opt_out && h(doc, 'p', { class: 'cl-n' }, h(doc, 'a', { href: state.opt_out[0], id: 'consent-opt-out' }, state.opt_out[1])),
      // GDPR Art 8: the server says who is a minor, and what to tell them (minor_notice).
      state.minor && h(doc, 'p', { class: 'cl-n' }, state.minor_notice),
      gpc && h(doc, 'p', { class: 'cl-n', id: 'consent-gpc' }, t.gpc),
      err,
      h(doc, 'div', { class: 'cl-a' }, accept, reject, custom, save));
    if (cats) show(cats);

    dlg.addEventListener('keydown', (e) => {
      if (e.key == 'Escape') {
        // Closing is never consent: an undecided visitor keeps the dialog, unless it is a
        // notice; a decided one who reopened it keeps the choice already recorded.
        e.preventDefault();
        if (reopened || n) close();
      } else if (e.key == 'Tab') {
        const f = focusables();
        const i = f.indexOf(doc.activeElement);
        if (e.shiftKey && i <= 0) {
          e.preventDefault();
          f[f.length - 1].focus();
        } else if (!e.shiftKey && i == f.length - 1) {
          e.preventDefault();
          f[0].focus();
        }
      }
    });

    overlay = h(doc, 'div', { class: 'cl-o' }, dlg);
    doc.body.append(overlay);
    dlg.focus();
  }

  return open;
}
