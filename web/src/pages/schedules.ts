// Scheduled exports (the CDDS Jobs page): each schedule with its latest
// run's status (a progress bar with the ETA while it runs), an active
// switch (suspend/resume), edit, clone, test export and delete, with the
// API's rules shown as the page's rules.

import { h, replace } from '../dom';
import { t } from '../i18n';
import { api, type Run, type Schedule } from '../api';
import { badge, isActive, typeName, when } from '../format';
import { errorNotice, loading, notice, pageHead, progress, switchControl, typeNames } from '../ui';
import type { Page } from '../main';

/** editBlock says why a schedule cannot be edited, or null. */
export function editBlock(s: Schedule): string | null {
  if (s.when.frequency === 'once' && s.submitted) return t('sched.onceSubmitted');
  if (s.runningJob) return t('sched.runningNoEdit');
  return null;
}

/** deleteBlock says why a schedule cannot be deleted, or null. */
export function deleteBlock(s: Schedule): string | null {
  return s.runningJob ? t('sched.runningNoDelete') : null;
}

/** resumeBlock says why a suspended schedule cannot be resumed, or null. */
export function resumeBlock(s: Schedule): string | null {
  if (s.when.frequency === 'once' && s.submitted) return t('sched.onceRan');
  return null;
}

export function latestRun(run: Run | undefined): HTMLElement | string {
  if (!run) return h('span', { class: 'muted' }, t('sched.noRuns'));
  if (isActive(run.status)) return h('div', { class: 'run-cell' }, badge(run.status), progress(run.percent, t('sched.rows', { n: run.rows }), run.etaSeconds, true));
  return h('div', { class: 'run-cell' }, badge(run.status), run.test ? h('span', { class: 'tag' }, t('sched.test')) : null, h('span', { class: 'muted small' }, ' ', when(run.endedAt || run.at)));
}

export const schedulesPage: Page = (main) => {
  let stopped = false;
  let timer: number | undefined;
  let names = new Map<string, string>();
  let lastSig = '';
  // While a delete asks for confirmation, the list is not redrawn under it
  // (a refresh would take the question away); it is redrawn after.
  let confirming = false;
  let seq = 0;
  const msg = h('div', { 'aria-live': 'polite' });
  const list = h('div');
  replace(
    main,
    pageHead(t('sched.title'), t('sched.sub'), h('a', { class: 'btn btn-primary', href: '#/schedules/new', 'data-testid': 'new-schedule' }, t('sched.new'))),
    msg,
    h('section', { class: 'card', 'aria-label': t('sched.title') }, list),
  );
  replace(list, loading());

  async function act(what: () => Promise<unknown>, done?: string): Promise<void> {
    clearTimeout(timer);
    confirming = false; // another action answers a pending delete question with "no"
    seq++; // what a poll in flight read is from before the action
    try {
      await what();
      if (done) replace(msg, notice('success', done));
    } catch (e) {
      replace(msg, errorNotice(e));
    }
    lastSig = '';
    await load();
  }

  function actions(s: Schedule): HTMLElement {
    const cell = h('div', { class: 'row-actions' });
    const eb = editBlock(s);
    const db = deleteBlock(s);
    const edit = eb
      ? h('button', { type: 'button', class: 'btn btn-small', disabled: true, title: eb }, t('sched.edit'))
      : h('a', { class: 'btn btn-small', href: `#/schedules/${s.id}/edit`, 'aria-label': t('sched.editAria', { title: s.title }) }, t('sched.edit'));
    const clone = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('sched.cloneAria', { title: s.title }) }, t('sched.clone'));
    clone.addEventListener('click', () => void act(() => api.cloneSchedule(s.id), t('sched.cloned', { title: s.title })));
    const test = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('sched.testAria', { title: s.title }) }, t('sched.testExport'));
    test.addEventListener('click', () =>
      void act(async () => {
        const j = await api.testSchedule(s.id);
        replace(msg, notice('success', t('sched.testStarted'), ' ', h('a', { href: `#/jobs/${j.id}` }, t('sched.viewJob'))));
      }),
    );
    const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', disabled: Boolean(db), title: db || null, 'aria-label': t('sched.deleteAria', { title: s.title }) }, t('sched.delete'));
    del.addEventListener('click', () => {
      const yes = h('button', { type: 'button', class: 'btn btn-small btn-danger' }, t('sched.deleteYes'));
      const no = h('button', { type: 'button', class: 'btn btn-small' }, t('common.cancel'));
      yes.addEventListener('click', () => {
        confirming = false;
        void act(() => api.deleteSchedule(s.id), t('sched.deleted', { title: s.title }));
      });
      no.addEventListener('click', () => {
        confirming = false;
        lastSig = '';
        void load();
      });
      confirming = true;
      replace(cell, h('span', { class: 'confirm', role: 'group', 'aria-label': t('sched.deleteConfirm', { title: s.title }) }, h('span', null, t('sched.deleteConfirm', { title: s.title })), yes, no));
      no.focus();
    });
    replace(cell, edit, clone, test, del);
    const reason = eb || db || (s.active ? null : resumeBlock(s));
    if (reason) cell.appendChild(h('p', { class: 'hint small' }, reason));
    return cell;
  }

  function activeSwitch(s: Schedule): HTMLElement {
    const rb = resumeBlock(s);
    const sw = switchControl(rb ? t('sched.ranOnce') : s.active ? t('sched.active') : t('sched.suspended'), s.active, (on) => {
      void act(() => (on ? api.resumeSchedule(s.id) : api.suspendSchedule(s.id)), on ? t('sched.resumed', { title: s.title }) : t('sched.suspendedMsg', { title: s.title }));
    }, Boolean(rb));
    sw.querySelector('input')!.setAttribute('aria-label', t('sched.activeAria', { title: s.title }));
    return h('div', null, sw, !s.active && s.suspendedReason ? h('p', { class: 'hint small' }, s.suspendedReason) : null);
  }

  async function load(): Promise<void> {
    clearTimeout(timer);
    const mine = ++seq; // a newer load (after an action) wins over one still in flight
    try {
      const schedules = await api.schedules();
      const runs = await Promise.all(schedules.map((s) => api.runs(s.id, 1).then((r) => r[0]).catch(() => undefined)));
      if (stopped || mine !== seq) return;
      const sig = JSON.stringify([schedules, runs.map((r) => r && { ...r, links: undefined })]);
      if (sig !== lastSig && !confirming) {
        lastSig = sig;
        if (!schedules.length) replace(list, h('div', { class: 'empty-state' }, h('p', null, t('sched.empty')), h('a', { class: 'btn btn-primary', href: '#/schedules/new' }, t('sched.new'))));
        else
          replace(
            list,
            h(
              'div',
              { class: 'table-scroll' },
              h(
                'table',
                { class: 'table sched-table' },
                h('caption', { class: 'sr-only' }, t('sched.title')),
                h(
                  'thead',
                  null,
                  h('tr', null, [t('sched.col.title'), t('sched.col.types'), t('sched.col.when'), t('sched.col.next'), t('sched.col.latest'), t('sched.col.active'), t('sched.col.actions')].map((c) => h('th', { scope: 'col' }, c))),
                ),
                h(
                  'tbody',
                  null,
                  schedules.map((s, i) =>
                    h(
                      'tr',
                      { 'data-schedule': s.id },
                      h('td', null, h('a', { href: `#/schedules/${s.id}`, class: 'strong' }, s.title), s.description ? h('div', { class: 'muted small' }, s.description) : null),
                      h('td', null, typeName(s.objectTypes.join(','), names)),
                      h('td', null, s.whenText),
                      h('td', { class: 'time' }, s.active ? when(s.nextRun) : '—'),
                      h('td', null, latestRun(runs[i])),
                      h('td', null, activeSwitch(s)),
                      h('td', null, actions(s)),
                    ),
                  ),
                ),
              ),
            ),
          );
      }
      const running = schedules.some((s) => s.runningJob) || runs.some((r) => r && isActive(r.status));
      timer = window.setTimeout(() => void load(), running ? 1500 : 5000);
    } catch (e) {
      if (stopped || mine !== seq) return;
      replace(list, errorNotice(e));
      timer = window.setTimeout(() => void load(), 10000);
    }
  }

  void (async () => {
    names = await typeNames();
    await load();
  })();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
};
