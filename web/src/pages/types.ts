// Object types reference: every type's columns, which are required, the
// allowed values and an example, from GET /v1/object-types.

import { h, replace } from '../dom';
import { t } from '../i18n';
import type { ObjectType } from '../api';
import { errorNotice, loading, objectTypes, pageHead } from '../ui';
import type { Page } from '../main';

export const typesPage: Page = (main, params) => {
  const body = h('div', { class: 'types-layout' });
  replace(main, pageHead(t('types.title'), t('types.sub')), body);
  replace(body, loading());

  function detail(ty: ObjectType): HTMLElement {
    return h(
      'article',
      { class: 'card type-card', 'aria-labelledby': `type-${ty.slug}` },
      h('h2', { id: `type-${ty.slug}` }, ty.name),
      h('p', { class: 'sub' }, t('types.keyIs', { key: ty.key.join(' + ') }), ty.aliases?.length ? ` · ${t('types.aliases', { list: ty.aliases.join(', ') })}` : ''),
      ty.notes?.length ? h('ul', { class: 'notes' }, ty.notes.map((n) => h('li', null, n))) : null,
      h(
        'div',
        { class: 'table-scroll' },
        h(
          'table',
          { class: 'table cols-table' },
          h('caption', { class: 'sr-only' }, t('types.columnsOf', { type: ty.name })),
          h('thead', null, h('tr', null, [t('types.col.column'), t('types.col.required'), t('types.col.values'), t('types.col.example'), t('types.col.notes')].map((c) => h('th', { scope: 'col' }, c)))),
          h(
            'tbody',
            null,
            ty.columns.map((c) =>
              h(
                'tr',
                null,
                h('th', { scope: 'row' }, c.header, c.aliases?.length ? h('div', { class: 'muted small' }, t('types.alsoRead', { list: c.aliases.join(', ') })) : null),
                h('td', null, c.required ? h('span', { class: 'badge badge-required' }, t('types.required')) : h('span', { class: 'muted' }, t('types.optional'))),
                h('td', null, c.values?.length ? h('ul', { class: 'values' }, c.values.map((v) => h('li', null, h('code', null, v)))) : c.ref ? t('types.refTo', { ref: c.ref }) : c.kind, c.multi ? h('div', { class: 'muted small' }, t('types.multi')) : null),
                h('td', null, c.example ? h('code', null, c.example) : '—'),
                h('td', { class: 'small' }, c.doc || '', c.immutable ? h('div', { class: 'muted' }, t('types.immutable')) : null),
              ),
            ),
          ),
        ),
      ),
      ty.columnFamilies?.length ? h('p', { class: 'hint' }, t('types.families', { list: ty.columnFamilies.join(', ') })) : null,
      h('p', null, h('a', { class: 'btn', href: `#/import?type=${ty.slug}` }, t('types.importThis', { type: ty.name }))),
    );
  }

  void (async () => {
    let types: ObjectType[];
    try {
      types = await objectTypes();
    } catch (e) {
      replace(body, errorNotice(e));
      return;
    }
    const slug = params[0] || types[0]?.slug;
    const chosen = types.find((x) => x.slug === slug) || types[0];
    replace(
      body,
      h(
        'nav',
        { class: 'types-nav', 'aria-label': t('types.listLabel') },
        h('ul', null, types.map((ty) => h('li', null, h('a', { href: `#/types/${ty.slug}`, 'aria-current': ty.slug === chosen.slug ? 'page' : null }, ty.name, h('span', { class: 'muted small' }, ` ${ty.columns.length}`))))),
      ),
      detail(chosen),
    );
  })();
};
