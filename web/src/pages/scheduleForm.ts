// Create or edit a scheduled export: title, types, prefix, when (once,
// hourly, daily, weekly, monthly in an IANA time zone), export options and
// how many failures in a row suspend it.

import { h, id, replace } from '../dom';
import { t } from '../i18n';
import { api, type Schedule, type ScheduleBody, type Target, type When } from '../api';
import { errorNotice, errorText, field, loading, notice, objectTypes, pageHead } from '../ui';
import { optionsEditor, prefixInput, targetPicker, typePicker } from './options';
import { editBlock } from './schedules';
import type { Page } from '../main';

const FREQS: When['frequency'][] = ['once', 'hourly', 'daily', 'weekly', 'monthly'];

function zones(): string[] {
  try {
    return (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
}

export const scheduleFormPage: Page = (main, params) => {
  const editId = params[0];
  const body = h('div');
  replace(main, h('div', { class: 'crumbs' }, h('a', { href: '#/schedules' }, t('sched.back'))), pageHead(editId ? t('form.editTitle') : t('form.newTitle'), t('form.sub')), body);
  replace(body, loading());

  async function build(): Promise<void> {
    const types = await objectTypes();
    let cur: Schedule | undefined;
    if (editId) cur = await api.schedule(editId);
    let targets: Target[] = [];
    let targetsErr: string | undefined;
    try {
      targets = await api.targets();
    } catch (e) {
      targetsErr = errorText(e);
    }
    const target = targetPicker(targets, cur?.targetId, targetsErr);
    const blocked = cur ? editBlock(cur) : null;
    const title = h('input', { type: 'text', required: true, maxlength: '100', value: cur?.title ?? '', autocomplete: 'off' });
    const desc = h('textarea', { rows: '2', maxlength: '1000' }, cur?.description ?? '');
    const picker = typePicker(types, cur?.objectTypes ?? []);
    const prefix = prefixInput(cur?.prefix ?? '');
    const freq = h('select', null, FREQS.map((f) => h('option', { value: f }, t(`freq.${f}` as 'freq.once'))));
    freq.value = cur?.when.frequency ?? 'daily';
    const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    const zoneList = zones();
    const tz = h('select', null, (zoneList.includes('UTC') ? zoneList : ['UTC', ...zoneList]).map((z) => h('option', { value: z }, z)));
    tz.value = cur?.when.timeZone || (cur ? 'UTC' : browserZone);
    const time = h('input', { type: 'time', value: cur?.when.time ?? '02:00' });
    const at = h('input', { type: 'datetime-local', value: cur?.when.at ?? '' });
    const weekday = h('select', null, [0, 1, 2, 3, 4, 5, 6].map((d) => h('option', { value: String(d) }, new Intl.DateTimeFormat(document.documentElement.lang, { weekday: 'long', timeZone: 'UTC' }).format(new Date(Date.UTC(2023, 0, 1 + d))))));
    weekday.value = String(cur?.when.weekday ?? 1);
    const day = h('input', { type: 'number', min: '1', max: '31', value: String(cur?.when.day ?? 1) });
    const maxFail = h('input', { type: 'number', min: '1', max: '10', value: String(cur?.maxFailures ?? 1) });
    const timeField = field(t('form.time'), time, t('form.timeHint'));
    const atField = field(t('form.at'), at, t('form.atHint'));
    const weekdayField = field(t('form.weekday'), weekday);
    const dayField = field(t('form.day'), day, t('form.dayHint'));
    const options = optionsEditor(types, picker, cur?.options ?? {}, true);
    const sync = () => {
      const f = freq.value;
      atField.hidden = f !== 'once';
      timeField.hidden = f === 'once';
      weekdayField.hidden = f !== 'weekly';
      dayField.hidden = f !== 'monthly';
      timeField.querySelector('label')!.textContent = f === 'hourly' ? t('form.minute') : t('form.time');
      options.setIncremental(f !== 'once');
    };
    freq.addEventListener('change', sync);
    sync();

    const status = h('div', { 'aria-live': 'polite' });
    const save = h('button', { type: 'submit', class: 'btn btn-primary btn-large', disabled: Boolean(blocked) }, editId ? t('form.save') : t('form.create'));
    const f = h(
      'form',
      { class: 'card', novalidate: true },
      blocked ? notice('warning', blocked) : null,
      h('fieldset', { disabled: Boolean(blocked), class: 'plain' },
        field(t('form.title'), title),
        field(t('form.description'), desc),
        picker.el,
        prefix.el,
        h('fieldset', null, h('legend', null, t('form.when')), h('div', { class: 'inline-fields' }, field(t('form.frequency'), freq), field(t('form.timeZone'), tz)), h('div', { class: 'inline-fields' }, atField, timeField, weekdayField, dayField)),
        target.el,
        options.el,
        field(t('form.maxFailures'), maxFail, t('form.maxFailuresHint')),
      ),
      h('div', { class: 'start-row' }, save, h('a', { class: 'btn btn-ghost', href: '#/schedules' }, t('common.cancel'))),
      status,
    );
    title.id ||= id('title');
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const sel = picker.selected();
      const problems: string[] = [];
      if (!title.value.trim()) problems.push(t('form.needTitle'));
      if (!sel.length) problems.push(t('export.pickTypes'));
      if (!prefix.valid()) problems.push(t('export.fixPrefix'));
      const fq = freq.value as When['frequency'];
      if (fq !== 'once' && !/^\d{2}:\d{2}$/.test(time.value)) problems.push(t('form.needTime'));
      const d = Number(day.value);
      if (fq === 'monthly' && (!Number.isInteger(d) || d < 1 || d > 31)) problems.push(t('form.dayBad'));
      const mf = Number(maxFail.value);
      if (!Number.isInteger(mf) || mf < 1 || mf > 10) problems.push(t('form.maxFailuresBad'));
      const o = options.read();
      if (typeof o === 'string') problems.push(o);
      if (problems.length) {
        replace(status, notice('error', problems.join(' ')));
        return;
      }
      const when: When = { frequency: fq, timeZone: tz.value };
      if (fq === 'once') {
        if (at.value) when.at = at.value.slice(0, 16);
      } else when.time = time.value;
      if (fq === 'weekly') when.weekday = Number(weekday.value);
      if (fq === 'monthly') when.day = d;
      const b: ScheduleBody = { title: title.value.trim(), description: desc.value, objectTypes: sel, prefix: prefix.value(), when, options: o as ScheduleBody['options'], maxFailures: mf };
      const tid = target.value();
      if (tid) b.targetId = tid;
      save.disabled = true;
      try {
        const s = cur ? await api.updateSchedule(cur.id, b, cur.version) : await api.createSchedule(b);
        location.hash = `#/schedules/${s.id}`;
      } catch (err) {
        save.disabled = false;
        replace(status, errorNotice(err));
      }
    });
    replace(body, f);
  }

  void build().catch((e) => replace(body, errorNotice(e)));
};
