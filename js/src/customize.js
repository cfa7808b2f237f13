// The second layer ("Customize"), built into its own chunk that the banner loads only when
// a visitor asks for it, so the first paint stays small. Per category: its checkbox, its
// description and a table of its cookies and storage keys (name, purpose, lifetime or where
// it is stored, who sets it), read from
// declaration.json (ePrivacy Art 5(3): clear and comprehensive information on each
// cookie's purpose; EDPB Guidelines 05/2020: who the third parties are).
import { cookiesOf, gpcLocked } from './logic.js';
import { h } from './dom.js';

/**
 * The fieldset of categories for `state` (the consent endpoint's answer), in the texts `first`
 * the banner's tag carries with declaration.json's `texts` (the second layer's, which the
 * tag leaves out to keep the first paint small). `declaration` is declaration.json: without
 * its texts this throws, so the banner sends the visitor to the no-JS preferences page
 * rather than showing a second layer without words.
 */
export function categories(doc, first, state, gpc, declaration) {
  const texts = declaration && declaration.texts;
  if (!texts || typeof texts != 'object') throw new Error('declaration.json has no texts');
  const t = { ...first, ...texts };
  const row = (tag, cells, attrs) => h(doc, 'tr', {}, ...cells.map((c) => h(doc, tag, attrs, c)));
  // A separate category (PIPL Art 23, 29, 39) is asked apart, in place: its own sentence
  // (the preferences page's), unticked unless granted, and sent as `separate` when ticked.
  const apart = state.categories.filter((c) => c.separate).map((c) => c.name);
  const items = state.categories.map((c) => {
    const locked = c.required || gpcLocked(c, gpc);
    const d = 'consent-d-' + c.name;
    const s = 'consent-s-' + c.name;
    const label = c.label || c.name;
    const cookies = cookiesOf(declaration, c.name);
    return h(doc, 'div', { class: 'cl-i' },
      c.separate && h(doc, 'p', { id: s, class: 'cl-p' }, t.separate.replace('{label}', () => label)),
      h(doc, 'label', {},
        h(doc, 'input', {
          type: 'checkbox',
          name: 'category',
          value: c.name,
          checked: !!c.required || (!gpcLocked(c, gpc) && state.granted.includes(c.name)),
          disabled: locked,
          'aria-describedby': [c.separate && s, c.description && d].filter((x) => x).join(' ') || null,
        }),
        ' ',
        label),
      locked && h(doc, 'span', { class: 'cl-s' }, c.required ? t.on : t.off),
      c.description && h(doc, 'p', { id: d }, c.description),
      cookies.length
        ? h(doc, 'table', { class: 'cl-t', id: 'consent-cookies-' + c.name },
          h(doc, 'thead', {}, row('th', [t.cookie, t.purpose, t.life, t.by], { scope: 'col' })),
          h(doc, 'tbody', {}, ...cookies.map((k) => row('td', [k.name, k.purpose, k.lifetime, k.third_party || t.us]))))
        : h(doc, 'p', {}, t.none));
  });
  const f = h(doc, 'fieldset', { class: 'cl-c' }, h(doc, 'legend', {}, t.cats), ...items);
  // What the banner's Save posts: the ticked categories, and of them the separate ones.
  f.pick = () => {
    const on = [...f.querySelectorAll('input')].filter((i) => i.checked).map((i) => i.value);
    return [on, on.filter((n) => apart.includes(n))];
  };
  return f;
}
