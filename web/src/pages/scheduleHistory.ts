// One schedule and its run history (the CDDS History page): each run's
// planned and actual times, status, rows, files, error and download link,
// with progress and ETA while it runs.

import { h, replace, download } from '../dom';
import { t } from '../i18n';
import { api, type Run, type Schedule } from '../api';
import { badge, isActive, num, typeName, when } from '../format';
import { deliveryText, errorNotice, loading, pageHead, progress, typeNames } from '../ui';
import { editBlock } from './schedules';
import type { Page } from '../main';

export const scheduleHistoryPage: Page = (main, params) => {
  const sid = params[0];
  let stopped = false;
  let timer: number | undefined;
  let names = new Map<string, string>();
  let lastSig = '';
  const body = h('div');
  replace(main, h('div', { class: 'crumbs' }, h('a', { href: '#/schedules' }, t('sched.back'))), body);
  replace(body, loading());

  function runRow(r: Run): HTMLElement {
    let link: HTMLElement | string = '';
    if (r.status === 'Completed' && r.links?.results) {
      const b = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('hist.downloadAria', { file: r.fileName || '' }) }, t('hist.download'));
      b.addEventListener('click', async () => {
        try {
          const fresh = (await api.runs(sid, 100)).find((x) => x.jobId === r.jobId);
          if (fresh?.links?.results) download(fresh.links.results);
        } catch (e) {
          b.after(errorNotice(e));
        }
      });
      link = b;
    }
    return h(
      'tr',
      null,
      h('td', null, h('a', { href: `#/jobs/${r.jobId}`, class: 'mono' }, r.jobId), r.test ? h('span', { class: 'tag' }, t('sched.test')) : null),
      h('td', { class: 'time' }, when(r.planned || r.at)),
      h('td', { class: 'time' }, when(r.startedAt)),
      h('td', { class: 'time' }, when(r.endedAt)),
      h('td', null, isActive(r.status) ? h('div', { class: 'run-cell' }, badge(r.status), progress(r.percent, t('sched.rows', { n: r.rows }), r.etaSeconds)) : badge(r.status)),
      h('td', { class: 'num' }, num(r.rows)),
      h('td', { class: 'num' }, r.files ? num(r.files) : '—'),
      h('td', { class: 'delivery-cell', 'data-testid': 'run-delivery' }, deliveryText(r.delivery)),
      h('td', null, r.error ? h('span', { class: 'error-text' }, r.error) : link),
    );
  }

  let targetName = '';
  function render(s: Schedule, runs: Run[]): void {
    replace(
      body,
      pageHead(s.title, s.whenText, editBlock(s) ? h('button', { type: 'button', class: 'btn', disabled: true, title: editBlock(s) }, t('sched.edit')) : h('a', { class: 'btn', href: `#/schedules/${s.id}/edit` }, t('sched.edit'))),
      h(
        'section',
        { class: 'card' },
        h(
          'dl',
          { class: 'details' },
          [
            [t('sched.col.types'), typeName(s.objectTypes.join(','), names)],
            [t('hist.prefix'), s.prefix || '—'],
            [t('hist.target'), targetName || t('opt.targetLink')],
            [t('sched.col.active'), s.active ? t('sched.active') : `${t('sched.suspended')}${s.suspendedReason ? ` — ${s.suspendedReason}` : ''}`],
            [t('sched.col.next'), s.active ? when(s.nextRun) : '—'],
            [t('hist.failures'), `${s.consecutiveFailures} / ${s.maxFailures ?? 1}`],
            [t('hist.createdBy'), s.createdBy],
          ].map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))),
        ),
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'hist-h' },
        h('h2', { id: 'hist-h' }, t('hist.title')),
        runs.length
          ? h(
              'div',
              { class: 'table-scroll' },
              h(
                'table',
                { class: 'table' },
                h('caption', { class: 'sr-only' }, t('hist.title')),
                h('thead', null, h('tr', null, [t('hist.col.job'), t('hist.col.planned'), t('hist.col.started'), t('hist.col.ended'), t('hist.col.status'), t('hist.col.rows'), t('hist.col.files'), t('hist.col.delivery'), t('hist.col.result')].map((c) => h('th', { scope: 'col' }, c)))),
                h('tbody', null, runs.map(runRow)),
              ),
            )
          : h('p', { class: 'empty' }, t('hist.empty')),
      ),
    );
  }

  async function load(): Promise<void> {
    try {
      const [s, runs] = await Promise.all([api.schedule(sid), api.runs(sid, 50)]);
      if (stopped) return;
      if (s.targetId && !targetName) {
        const named = runs.find((r) => r.delivery?.targetId === s.targetId && r.delivery?.targetName)?.delivery?.targetName;
        targetName = named || (await api.targets().then((ts) => ts.find((x) => x.id === s.targetId)?.name).catch(() => undefined)) || s.targetId;
      }
      const sig = JSON.stringify([s, runs.map((r) => ({ ...r, links: undefined }))]);
      if (sig !== lastSig) {
        lastSig = sig;
        render(s, runs);
      }
      timer = window.setTimeout(() => void load(), runs.some((r) => isActive(r.status)) || s.runningJob ? 1500 : 10000);
    } catch (e) {
      if (!stopped) replace(body, errorNotice(e));
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
