// Pure functions: no DOM, no network. Everything here is unit-tested in Node.

// The default category -> Consent Mode types mapping; a page overrides it whole with
// data-consent-mode='{"analytics":["analytics_storage"], ...}' on the banner's script tag.
export const DEFAULT_MODE = {
  necessary: ['security_storage'],
  preferences: ['functionality_storage', 'personalization_storage'],
  analytics: ['analytics_storage'],
  marketing: ['ad_storage', 'ad_user_data', 'ad_personalization'],
};

// Google Consent Mode v2's seven storage types (docs/rules.md, "Consent Mode v2"): the default
// mapping names each of them once.
export const TYPES = /* @__PURE__ */ Object.values(DEFAULT_MODE).flat();

// The texts are not here: the server puts the first layer's, in the visitor's language
// only, in the banner's tag (data-consent-texts, from consentlib/locale), and the second
// layer's in declaration.json's `texts`, so the script is the same for every language and
// the first paint holds one language's strings of one layer.

/**
 * A JSON object from one of the tag's attributes: data-consent-texts ({title, desc, ...}),
 * data-consent-storage; `none` (by default {}) when the attribute is missing or unreadable.
 */
export function parseTexts(attr, none = {}) {
  try {
    const t = JSON.parse(attr);
    if (t && typeof t == 'object') return t;
  } catch {}
  return none;
}

/**
 * The payload of the consent cookie ({r, c, t}: revision, categories, decision day) from
 * a document.cookie string, or null; the banner uses r and c. The consent id is in the
 * HttpOnly id cookie, which scripts never see. The signature is not checked here: the
 * server is the authority, and a forged cookie can only fool its own browser's banner,
 * never the server's gating.
 *
 * The name is the server's (RFC 6265bis §4.1.3): on an https page `__Host-consent`, or
 * `__Secure-consent` for a site sharing it across subdomains; an unprefixed `consent`
 * there may have been planted by a sibling subdomain, so it is not read, and over
 * http (development) only `consent` is. Names match case and all, as the server reads
 * them. Of several cookies of the name the first is read: a browser holds one
 * `__Host-consent`, and a host that can plant a second `__Secure-consent` can as well
 * overwrite the site's own; the server reads neither (docs/consent-cookies.md).
 */
export function readCookie(cookies, secure) {
  try {
    // document.cookie joins cookies with "; " (RFC 6265bis §5.8.3); a name counts only
    // there, never inside another cookie's value. No cookie of the name: m is null, and
    // reading it throws.
    const m = (secure ? /(^|; )__(Host|Secure)-consent="?([\w-]+)\./ : /(^|; )()consent="?([\w-]+)\./).exec(cookies);
    // Base64url, and ASCII inside (category names are [a-z0-9_-], the rest numbers), so
    // atob's byte string is the JSON text itself.
    const p = JSON.parse(atob(m[3].replace(/-/g, '+').replace(/_/g, '/')));
    return p && Array.isArray(p.c) ? p : null;
  } catch {
    return null;
  }
}

/** A category -> types mapping from the data-consent-mode attribute, else DEFAULT_MODE. */
export function parseMode(attr) {
  const m = parseTexts(attr, DEFAULT_MODE);
  return Object.values(m).every(Array.isArray) ? m : DEFAULT_MODE;
}

/** The Consent Mode state of the seven types for a set of granted categories. */
export function modeState(granted, mapping) {
  const out = {};
  for (const t of TYPES) out[t] = 'denied';
  for (const c of granted) for (const t of mapping[c] || []) if (t in out) out[t] = 'granted';
  return out;
}

/** True when `next` withdraws a category that `prev` granted (the page must reload). */
export function narrowed(prev, next) {
  return prev.some((c) => !next.includes(c));
}

/** Whether GPC locks a category off: the signal is present and the category is marked gpc. */
export function gpcLocked(category, gpc) {
  return !!(gpc && category.gpc && !category.required);
}

/** The first layer's description: `desc` with every category's label in place of `{purposes}`. */
export function purposes(t, categories) {
  // A function, so that a `$&` or `$1` in a label stays text rather than a replacement pattern.
  return t.desc.replace('{purposes}', () => categories.map((c) => c.label || c.name).join(t.sep));
}

/**
 * The cookies that declaration.json lists for `category`, then its storage keys with their
 * areas as the lifetime ([] for a malformed declaration).
 */
export function cookiesOf(declaration, category) {
  const of = (k) => (declaration && Array.isArray(declaration[k]) ? declaration[k] : []).filter((c) => c && c.category == category);
  return [...of('cookies'), ...of('storage').map((s) => ({ ...s, lifetime: [].concat(s.areas).join(', ') }))];
}

/** `fn`'s promise, asked for once; a failure is forgotten so that the next call tries again. */
export function once(fn) {
  let p;
  return () =>
    (p = p ||
      fn().catch((e) => {
        p = null;
        throw e;
      }));
}
