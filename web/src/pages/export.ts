// Export: one or more object types to a ZIP of CSV parts, a prefix and the
// export options; the job page follows it and offers the ZIP.

import { h, replace } from '../dom';
import { t } from '../i18n';
import { ApiError, activeJob, api, type ObjectType, type Target } from '../api';
import { errorNotice, errorText, loading, notice, objectTypes, pageHead } from '../ui';
import { optionsEditor, prefixInput, targetPicker, typePicker } from './options';
import type { Page } from '../main';

export const exportPage: Page = (main, _params, query) => {
  let stopped = false;
  const body = h('div');
  const busySlot = h('div', { 'aria-live': 'polite' });
  replace(main, pageHead(t('export.title'), t('export.sub')), busySlot, body);
  replace(body, loading());
  let busy = false;
  let startBtn: HTMLButtonElement | undefined;

  async function refreshBusy(): Promise<void> {
    try {
      const a = await activeJob();
      busy = Boolean(a);
      replace(busySlot, a ? notice('warning', h('strong', null, t('dash.busyTitle')), ' ', t('import.busy', { file: a.fileName }), ' ', h('a', { href: `#/jobs/${a.id}` }, t('dash.busyLink', { id: a.id }))) : null);
      if (startBtn) startBtn.disabled = busy;
    } catch {
      // the start button reports errors
    }
  }

  function form(types: ObjectType[], targets: Target[], targetsErr?: string): void {
    const want = query.get('type');
    const picker = typePicker(types, want ? [want] : []);
    const prefix = prefixInput();
    const options = optionsEditor(types, picker);
    const target = targetPicker(targets, query.get('target') ?? undefined, targetsErr);
    const status = h('div', { 'aria-live': 'polite' });
    const btn = h('button', { type: 'submit', class: 'btn btn-primary btn-large', disabled: busy }, t('export.start'));
    startBtn = btn;
    const f = h(
      'form',
      { class: 'card', novalidate: true },
      picker.el,
      prefix.el,
      target.el,
      options.el,
      h('div', { class: 'start-row' }, btn),
      status,
    );
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const sel = picker.selected();
      if (!sel.length) {
        replace(status, notice('error', t('export.pickTypes')));
        return;
      }
      if (!prefix.valid()) {
        replace(status, notice('error', t('export.fixPrefix')));
        return;
      }
      const o = options.read();
      if (typeof o === 'string') {
        replace(status, notice('error', o));
        return;
      }
      btn.disabled = true;
      replace(status, h('p', { role: 'status' }, t('export.starting')));
      try {
        const job = await api.createExport(sel, prefix.value(), o, target.value());
        location.hash = `#/jobs/${job.id}`;
      } catch (err) {
        btn.disabled = false;
        if (err instanceof ApiError && err.activeJobId) replace(status, notice('error', errorText(err), ' ', h('a', { href: `#/jobs/${err.activeJobId}` }, t('import.viewActive'))));
        else replace(status, errorNotice(err));
      }
    });
    replace(body, f);
  }

  void (async () => {
    try {
      const types = await objectTypes();
      let targets: Target[] = [];
      let targetsErr: string | undefined;
      try {
        targets = await api.targets();
      } catch (e) {
        targetsErr = errorText(e);
      }
      await refreshBusy();
      if (!stopped) form(types, targets, targetsErr);
    } catch (e) {
      replace(body, errorNotice(e));
    }
  })();
  const timer = window.setInterval(() => void refreshBusy(), 5000);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
};
