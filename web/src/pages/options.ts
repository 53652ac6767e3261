// The parts an export and a schedule share: the object types to export,
// the file name prefix (validated as the API does) and the export options
// (fields, header style, multi-values, filters, split, range, formula
// protection).

import { h, id, replace } from '../dom';
import { t } from '../i18n';
import type { ExportOptions, Filter, ObjectType, Target } from '../api';
import { targetWhere } from './targets';
import { PREFIX_RE } from '../ui';

export interface TypePicker {
  el: HTMLElement;
  selected(): string[];
  onChange(f: () => void): void;
}

/** typePicker is a fieldset of checkboxes, one per object type. */
export function typePicker(types: ObjectType[], initial: string[] = []): TypePicker {
  const listeners: (() => void)[] = [];
  const boxes = types.map((ty) => {
    const cb = h('input', { type: 'checkbox', name: 'objectTypes', value: ty.slug, checked: initial.includes(ty.slug), id: id('ty') });
    cb.addEventListener('change', () => listeners.forEach((f) => f()));
    return { cb, el: h('label', { class: 'check-item', for: cb.id }, cb, h('span', null, ty.name)) };
  });
  const el = h('fieldset', { class: 'types-pick' }, h('legend', null, t('export.types')), h('div', { class: 'check-grid' }, boxes.map((b) => b.el)));
  return {
    el,
    selected: () => boxes.filter((b) => b.cb.checked).map((b) => b.cb.value),
    onChange: (f) => listeners.push(f),
  };
}

export interface PrefixInput {
  el: HTMLElement;
  value(): string;
  valid(): boolean;
}

/** prefixInput is the ZIP name prefix: at most 20 letters, digits, _ or - (exportzip.ValidatePrefix). */
export function prefixInput(initial = ''): PrefixInput {
  const input = h('input', { type: 'text', name: 'prefix', value: initial, maxlength: '40', autocomplete: 'off', spellcheck: 'false', id: id('prefix') });
  const hintId = id('hint');
  const errId = id('err');
  const err = h('p', { class: 'field-error', id: errId, hidden: true });
  input.setAttribute('aria-describedby', `${hintId} ${errId}`);
  const check = () => {
    const ok = PREFIX_RE.test(input.value);
    input.setAttribute('aria-invalid', String(!ok));
    err.hidden = ok;
    err.textContent = ok ? '' : t('export.prefixBad', { n: input.value.length });
    return ok;
  };
  input.addEventListener('input', check);
  return {
    el: h('div', { class: 'field' }, h('label', { for: input.id }, t('export.prefix')), input, h('p', { class: 'hint', id: hintId }, t('export.prefixHint')), err),
    value: () => input.value,
    valid: check,
  };
}

export interface OptionsEditor {
  el: HTMLElement;
  /** read returns the options, or a message saying what to fix. */
  read(): ExportOptions | string;
  /** setIncremental allows or refuses the incremental range (schedules that recur). */
  setIncremental(allowed: boolean): void;
}

const OPS: Filter['op'][] = ['equals', 'contains', 'startsWith', 'empty', 'notEmpty'];

function localInput(iso?: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** optionsEditor edits export options for the types picked. */
export function optionsEditor(types: ObjectType[], picker: TypePicker, initial: ExportOptions = {}, schedule = false): OptionsEditor {
  const radios = (name: string, legend: string, items: [string, string][], value: string) => {
    const inputs = items.map(([v, label]) => {
      const r = h('input', { type: 'radio', name, value: v, checked: v === value, id: id(name) });
      return { r, el: h('label', { class: 'check-item', for: r.id }, r, h('span', null, label)) };
    });
    return { el: h('fieldset', { class: 'radios' }, h('legend', null, legend), h('div', { class: 'radio-row' }, inputs.map((i) => i.el))), inputs, value: () => inputs.find((i) => i.r.checked)?.r.value || items[0][0] };
  };
  const groupName = id('opt');
  const header = radios(`${groupName}-header`, t('opt.header'), [['labels', t('opt.headerLabels')], ['keys', t('opt.headerKeys')]], initial.header || 'labels');
  const multi = radios(`${groupName}-multi`, t('opt.multi'), [['joined', t('opt.multiJoined')], ['columns', t('opt.multiColumns')]], initial.multiValue || 'joined');
  const rangeItems: [string, string][] = [['all', t('opt.rangeAll')], ['interval', t('opt.rangeInterval')]];
  if (schedule) rangeItems.push(['incremental', t('opt.rangeIncremental')]);
  const range = radios(`${groupName}-range`, t('opt.range'), rangeItems, initial.range?.mode || 'all');
  const from = h('input', { type: 'datetime-local', value: localInput(initial.range?.from), id: id('from') });
  const to = h('input', { type: 'datetime-local', value: localInput(initial.range?.to), id: id('to') });
  const interval = h('div', { class: 'inline-fields' }, h('div', { class: 'field' }, h('label', { for: from.id }, t('opt.from')), from), h('div', { class: 'field' }, h('label', { for: to.id }, t('opt.to')), to));
  const showInterval = () => (interval.hidden = range.value() !== 'interval');
  range.inputs.forEach((i) => i.r.addEventListener('change', showInterval));
  showInterval();

  const splitRows = h('input', { type: 'number', min: '1', max: '5000', step: '1', value: initial.splitRows ? String(initial.splitRows) : '', placeholder: '5000', id: id('rows') });
  const splitKB = h('input', { type: 'number', min: '64', step: '1', value: initial.splitBytes ? String(Math.round(initial.splitBytes / 1024)) : '', placeholder: t('opt.splitBytesNone'), id: id('kb') });
  const neutral = h('input', { type: 'checkbox', checked: !initial.noNeutralize, id: id('neu') });
  const format = radios(`${groupName}-format`, t('opt.format'), [['zip', t('opt.formatZip')], ['csv', t('opt.formatCsv')]], initial.format || 'zip');
  const stable = h('input', { type: 'checkbox', checked: Boolean(initial.stableName), id: id('stable') });

  // Fields: a checklist for one type, in its column order (the key is always written).
  const fieldsSlot = h('div', { class: 'fields-slot' });
  let fieldBoxes: HTMLInputElement[] = [];
  const chosenFields = new Set(initial.fields ?? []);
  const renderFields = () => {
    const sel = picker.selected();
    fieldBoxes = [];
    if (sel.length !== 1) {
      replace(fieldsSlot, h('p', { class: 'hint' }, sel.length ? t('opt.fieldsMany') : t('opt.fieldsNone')));
      return;
    }
    const ty = types.find((x) => x.slug === sel[0]);
    if (!ty) return;
    const all = chosenFields.size === 0;
    replace(
      fieldsSlot,
      h('p', { class: 'hint' }, t('opt.fieldsHint')),
      h(
        'div',
        { class: 'check-grid' },
        ty.columns.map((c) => {
          const key = ty.key.includes(c.header);
          const cb = h('input', { type: 'checkbox', value: c.header, checked: key || all || chosenFields.has(c.header), disabled: key, id: id('fld') });
          if (!key) fieldBoxes.push(cb);
          return h('label', { class: 'check-item', for: cb.id }, cb, h('span', null, c.header));
        }),
      ),
    );
  };
  picker.onChange(() => {
    renderFields();
    renderFilterFields();
  });

  // Filters: field, operator, value; all must match.
  const filterRows = h('div', { class: 'filter-rows' });
  const filterState: { field: HTMLSelectElement; op: HTMLSelectElement; value: HTMLInputElement; row: HTMLElement }[] = [];
  const fieldNames = () => {
    const names: string[] = [];
    for (const slug of picker.selected()) for (const c of types.find((x) => x.slug === slug)?.columns ?? []) if (!names.includes(c.header)) names.push(c.header);
    return names;
  };
  const renderFilterFields = () => {
    const names = fieldNames();
    for (const f of filterState) {
      const keep = f.field.value;
      replace(f.field, names.map((n) => h('option', { value: n }, n)));
      if (names.includes(keep)) f.field.value = keep;
    }
  };
  const addFilter = (init?: Filter) => {
    const n = filterState.length + 1;
    const field = h('select', { 'aria-label': t('opt.filterField', { n }) }, fieldNames().map((x) => h('option', { value: x }, x)));
    const op = h('select', { 'aria-label': t('opt.filterOp', { n }) }, OPS.map((o) => h('option', { value: o }, t(`op.${o}` as 'op.equals'))));
    const value = h('input', { type: 'text', 'aria-label': t('opt.filterValue', { n }), placeholder: t('opt.filterValuePh') });
    if (init) {
      if (!fieldNames().includes(init.field)) field.appendChild(h('option', { value: init.field }, init.field));
      field.value = init.field;
      op.value = init.op;
      value.value = init.value ?? '';
    }
    const sync = () => (value.disabled = op.value === 'empty' || op.value === 'notEmpty');
    op.addEventListener('change', sync);
    sync();
    const entry = { field, op, value, row: h('div', { class: 'filter-row' }) };
    const remove = h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'aria-label': t('opt.filterRemove', { n }) }, '✕');
    remove.addEventListener('click', () => {
      entry.row.remove();
      filterState.splice(filterState.indexOf(entry), 1);
    });
    replace(entry.row, field, op, value, remove);
    filterState.push(entry);
    filterRows.appendChild(entry.row);
  };
  for (const f of initial.filters ?? []) addFilter(f);
  const addBtn = h('button', { type: 'button', class: 'btn btn-small', onclick: () => addFilter() }, t('opt.filterAdd'));

  const summary = h('summary', null, t('opt.title'));
  const el = h(
    'details',
    { class: 'options', open: Boolean(initial.fields?.length || initial.filters?.length || initial.splitRows || initial.splitBytes || initial.range?.mode || initial.format === 'csv' || initial.stableName) },
    summary,
    h(
      'div',
      { class: 'options-body' },
      h('fieldset', { class: 'fields-pick' }, h('legend', null, t('opt.fields')), fieldsSlot),
      h('div', { class: 'two-col' }, header.el, multi.el),
      h('fieldset', null, h('legend', null, t('opt.filters')), h('p', { class: 'hint' }, t('opt.filtersHint')), filterRows, addBtn),
      h(
        'fieldset',
        null,
        h('legend', null, t('opt.split')),
        h('div', { class: 'inline-fields' }, h('div', { class: 'field' }, h('label', { for: splitRows.id }, t('opt.splitRows')), splitRows), h('div', { class: 'field' }, h('label', { for: splitKB.id }, t('opt.splitBytes')), splitKB)),
      ),
      range.el,
      interval,
      format.el,
      h('label', { class: 'check-item', for: stable.id }, stable, h('span', null, t('opt.stableName'))),
      h('label', { class: 'check-item', for: neutral.id }, neutral, h('span', null, t('opt.neutralize'))),
    ),
  );
  renderFields();

  return {
    el,
    setIncremental(allowed: boolean) {
      const inc = range.inputs.find((i) => i.r.value === 'incremental');
      if (!inc) return;
      inc.r.disabled = !allowed;
      if (!allowed && inc.r.checked) {
        inc.r.checked = false;
        range.inputs[0].r.checked = true;
        showInterval();
      }
    },
    read(): ExportOptions | string {
      const o: ExportOptions = {};
      if (fieldBoxes.length && fieldBoxes.some((b) => !b.checked)) {
        const sel = picker.selected();
        const ty = types.find((x) => x.slug === sel[0])!;
        o.fields = [...ty.key, ...fieldBoxes.filter((b) => b.checked).map((b) => b.value)];
      }
      if (header.value() !== 'labels') o.header = 'keys';
      if (multi.value() !== 'joined') o.multiValue = 'columns';
      const filters: Filter[] = [];
      for (const f of filterState) {
        const op = f.op.value as Filter['op'];
        if (!f.field.value) continue;
        if ((op === 'equals' || op === 'contains' || op === 'startsWith') && f.value.value.trim() === '') return t('opt.filterNeedsValue', { field: f.field.value });
        filters.push(op === 'empty' || op === 'notEmpty' ? { field: f.field.value, op } : { field: f.field.value, op, value: f.value.value });
      }
      if (filters.length) o.filters = filters;
      if (splitRows.value) {
        const n = Number(splitRows.value);
        if (!Number.isInteger(n) || n < 1 || n > 5000) return t('opt.splitRowsBad');
        if (n !== 5000) o.splitRows = n;
      }
      if (splitKB.value) {
        const n = Number(splitKB.value);
        if (!Number.isInteger(n) || n < 64) return t('opt.splitBytesBad');
        o.splitBytes = n * 1024;
      }
      if (!neutral.checked) o.noNeutralize = true;
      if (format.value() === 'csv') {
        if (picker.selected().length > 1) return t('opt.csvOneType');
        if (o.splitRows || o.splitBytes) return t('opt.csvNoSplit');
        o.format = 'csv';
      }
      if (stable.checked) o.stableName = true;
      const mode = range.value();
      if (mode === 'interval') {
        if (!from.value) return t('opt.fromNeeded');
        const f = new Date(from.value);
        const tt = to.value ? new Date(to.value) : undefined;
        if (tt && tt <= f) return t('opt.toBeforeFrom');
        o.range = { mode: 'interval', from: f.toISOString(), ...(tt ? { to: tt.toISOString() } : {}) };
      } else if (mode === 'incremental') o.range = { mode: 'incremental' };
      return o;
    },
  };
}

export interface TargetPicker {
  el: HTMLElement;
  /** The target's ID, or undefined for the download link only. */
  value(): string | undefined;
}

/**
 * targetPicker chooses where the file goes once built: the download link
 * (the default, always) or one of the tenant's delivery targets.
 */
export function targetPicker(targets: Target[], initial?: string, loadError?: string): TargetPicker {
  const sel = h('select', { id: id('target'), name: 'targetId', 'data-testid': 'target-picker' }, h('option', { value: '' }, t('opt.targetLink')));
  for (const tg of targets) sel.appendChild(h('option', { value: tg.id }, `${tg.name} — ${targetWhere(tg)}`));
  if (initial && !targets.some((x) => x.id === initial)) sel.appendChild(h('option', { value: initial }, t('opt.targetGone', { id: initial })));
  sel.value = initial ?? '';
  const hintId = id('hint');
  sel.setAttribute('aria-describedby', hintId);
  const el = h(
    'div',
    { class: 'field' },
    h('label', { for: sel.id }, t('opt.target')),
    sel,
    h('p', { class: 'hint', id: hintId }, loadError ? loadError : targets.length ? t('opt.targetHint') : t('opt.targetNone'), ' ', h('a', { href: '#/settings/targets' }, t('opt.targetManage'))),
  );
  return { el, value: () => sel.value || undefined };
}
