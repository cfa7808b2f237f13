// The second layer ("Customize"), built into its own chunk that the banner loads only when
// a visitor asks for it, so the first paint stays small. Per category: its checkbox, its
// description and a table of its cookies (name, purpose, lifetime, who sets it), read from
// declaration.json (ePrivacy Art 5(3): clear and comprehensive information on each
// cookie's purpose; EDPB Guidelines 05/2020: who the third parties are).
import { cookiesOf, gpcLocked } from './logic.js';
import { h } from './dom.js';

/**
 * The fieldset of categories for `state` (the consent endpoint's answer), in the texts `t`
 * the banner's tag carries. `declaration` is declaration.json, or null when it could not
 * be read: then the tables are left out and the choice still works.
 */
export function categories(doc, t, state, gpc, declaration) {
  const row = (tag, cells, attrs) => h(doc, 'tr', {}, ...cells.map((c) => h(doc, tag, attrs, c)));
  const items = state.categories.map((c) => {
    const locked = c.required || gpcLocked(c, gpc);
    const d = 'consent-d-' + c.name;
    const cookies = cookiesOf(declaration, c.name);
    return h(doc, 'div', { class: 'cl-i' },
      h(doc, 'label', {},
        h(doc, 'input', {
          type: 'checkbox',
          name: 'category',
          value: c.name,
          checked: !!c.required || (!locked && state.granted.includes(c.name)),
          disabled: locked,
          'aria-describedby': c.description ? d : null,
        }),
        ' ',
        c.label || c.name),
      locked && h(doc, 'span', { class: 'cl-s' }, c.required ? t.on : t.off),
      c.description && h(doc, 'p', { id: d }, c.description),
      declaration && (cookies.length
        ? h(doc, 'table', { class: 'cl-t', id: 'consent-cookies-' + c.name },
          h(doc, 'thead', {}, row('th', [t.cookie, t.purpose, t.life, t.by], { scope: 'col' })),
          h(doc, 'tbody', {}, ...cookies.map((k) => row('td', [k.name, k.purpose, k.lifetime, k.third_party || t.us]))))
        : h(doc, 'p', {}, t.none)));
  });
  return h(doc, 'fieldset', { class: 'cl-c' }, h(doc, 'legend', {}, t.cats), ...items);
}
