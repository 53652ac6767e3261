// The bulk-operations dashboard: every job of the tenant, newest first,
// with Webex's fields, a search box, filters and cursor paging. "New bulk
// operation" is disabled while a job runs, naming and linking that job.

import { h, replace, id, download } from '../dom';
import { t } from '../i18n';
import { activeJob, api, STATUSES, type Job, type JobQuery } from '../api';
import { badge, isActive, statusText, typeName, when } from '../format';
import { errorNotice, notice, objectTypes, pageHead, typeNames } from '../ui';
import type { Page } from '../main';

const PAGE_SIZES = [10, 20, 50, 100];

export const dashboardPage: Page = (main) => {
  let names = new Map<string, string>();
  const cursors: string[] = ['']; // cursors[i] opens page i
  let pageIndex = 0;
  let nextCursor: string | undefined;
  let timer: number | undefined;
  let stopped = false;

  const menuId = id('newop');
  const newBtn = h('button', { type: 'button', class: 'btn btn-primary', 'aria-expanded': 'false', 'aria-controls': menuId, 'data-testid': 'new-operation' }, t('dash.new'));
  const menu = h(
    'ul',
    { class: 'popover', id: menuId, hidden: true },
    h('li', null, h('a', { href: '#/import' }, h('strong', null, t('dash.newImport')), h('span', null, t('dash.newImportHint')))),
    h('li', null, h('a', { href: '#/export' }, h('strong', null, t('dash.newExport')), h('span', null, t('dash.newExportHint')))),
  );
  const toggle = (open: boolean) => {
    menu.hidden = !open;
    newBtn.setAttribute('aria-expanded', String(open));
    if (open) menu.querySelector('a')?.focus();
  };
  newBtn.addEventListener('click', () => toggle(menu.hidden));
  menu.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      toggle(false);
      newBtn.focus();
    }
  });
  const banner = h('div', { class: 'banner-slot', 'aria-live': 'polite' });

  const q = h('input', { type: 'search', name: 'q', placeholder: t('dash.searchPlaceholder'), autocomplete: 'off' });
  const status = h('select', { name: 'status' }, h('option', { value: '' }, t('dash.allStatuses')), STATUSES.map((s) => h('option', { value: s }, statusText(s))));
  const type = h('select', { name: 'type' }, h('option', { value: '' }, t('dash.allJobTypes')), h('option', { value: 'import' }, t('jobType.import')), h('option', { value: 'export' }, t('jobType.export')));
  const objType = h('select', { name: 'objectType' }, h('option', { value: '' }, t('dash.allObjectTypes')));
  const lbl = (text: string, control: HTMLElement) => {
    control.id = id('flt');
    return h('div', { class: 'filter' }, h('label', { for: control.id }, text), control);
  };
  const filters = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': t('dash.filters'), onsubmit: (e: Event) => { e.preventDefault(); restart(); } },
    lbl(t('dash.search'), q),
    lbl(t('dash.status'), status),
    lbl(t('dash.jobType'), type),
    lbl(t('dash.objectType'), objType),
  );

  const tbody = h('tbody');
  const msg = h('div', { class: 'table-msg' });
  const prev = h('button', { type: 'button', class: 'btn', disabled: true, onclick: () => go(pageIndex - 1) }, t('dash.prev'));
  const next = h('button', { type: 'button', class: 'btn', disabled: true, onclick: () => go(pageIndex + 1) }, t('dash.next'));
  const pageInfo = h('span', { class: 'page-info', 'aria-live': 'polite' });
  const pageSize = h('select', { id: id('size') }, PAGE_SIZES.map((n) => h('option', { value: String(n) }, String(n))));
  pageSize.value = '20';
  pageSize.addEventListener('change', () => restart());
  const cols = ['dash.col.id', 'dash.col.file', 'dash.col.jobType', 'dash.col.objectType', 'dash.col.status', 'dash.col.submittedBy', 'dash.col.start', 'dash.col.end', 'dash.col.action'] as const;
  const table = h(
    'table',
    { class: 'table jobs-table' },
    h('caption', { class: 'sr-only' }, t('dash.caption')),
    h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col' }, t(c))))),
    tbody,
  );

  replace(
    main,
    h('div', { class: 'page-head-wrap' }, pageHead(t('dash.title'), t('dash.sub'), h('div', { class: 'menu-wrap' }, newBtn, menu))),
    banner,
    h('section', { class: 'card', 'aria-label': t('dash.caption') }, filters, h('div', { class: 'table-scroll' }, table), msg, h('div', { class: 'pager' }, h('label', { class: 'page-size', for: pageSize.id }, t('dash.pageSize'), pageSize), prev, pageInfo, next)),
  );

  let searchTimer: number | undefined;
  q.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = window.setTimeout(restart, 300);
  });
  for (const s of [status, type, objType]) s.addEventListener('change', restart);

  function query(): JobQuery {
    return { q: q.value.trim(), status: status.value, type: type.value, objectType: objType.value, limit: Number(pageSize.value), cursor: cursors[pageIndex] };
  }

  function restart(): void {
    cursors.length = 1;
    pageIndex = 0;
    void load(false);
  }

  function go(i: number): void {
    if (i < 0) return;
    if (i > pageIndex) {
      if (!nextCursor) return;
      cursors[i] = nextCursor;
    }
    pageIndex = i;
    void load(false);
  }

  async function downloadFor(job: Job, which: 'errors' | 'results', btn: HTMLButtonElement): Promise<void> {
    btn.disabled = true;
    try {
      const full = await api.job(job.id);
      const link = full.links?.[which];
      if (link) download(link);
      else replace(msg, notice('info', t('dash.noFile')));
    } catch (e) {
      replace(msg, errorNotice(e));
    } finally {
      btn.disabled = false;
    }
  }

  function actionFor(j: Job): HTMLElement | string {
    const mk = (label: string, which: 'errors' | 'results', aria: string) => {
      const b = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': aria }, label);
      b.addEventListener('click', () => void downloadFor(j, which, b));
      return b;
    };
    if (j.type === 'export' && j.status === 'Completed') return mk(t('dash.downloadExport'), 'results', t('dash.downloadExportAria', { file: j.fileName }));
    if (j.type === 'import' && j.counts.failed > 0 && !isActive(j.status)) return mk(t('dash.downloadErrors'), 'errors', t('dash.downloadErrorsAria', { file: j.fileName }));
    return '';
  }

  function row(j: Job): HTMLElement {
    return h(
      'tr',
      { 'data-job': j.id },
      h('td', { class: 'mono' }, h('a', { href: `#/jobs/${j.id}` }, j.id)),
      h('td', { class: 'file' }, j.fileName, j.dryRun ? h('span', { class: 'tag' }, t('dash.dryRun')) : null),
      h('td', null, t(j.type === 'export' ? 'jobType.export' : 'jobType.import')),
      h('td', null, typeName(j.objectType, names)),
      h('td', null, badge(j.status)),
      h('td', null, j.submittedBy),
      h('td', { class: 'time' }, when(j.startedAt || j.submittedAt)),
      h('td', { class: 'time' }, when(j.endedAt)),
      h('td', null, actionFor(j)),
    );
  }

  async function refreshActive(): Promise<void> {
    try {
      const a = await activeJob();
      newBtn.disabled = Boolean(a);
      if (a) {
        toggle(false);
        replace(
          banner,
          notice('warning', h('strong', null, t('dash.busyTitle')), ' ', t('dash.busy', { file: a.fileName }), ' ', h('a', { href: `#/jobs/${a.id}`, 'data-testid': 'active-job-link' }, t('dash.busyLink', { id: a.id }))),
        );
      } else replace(banner);
    } catch {
      // the table's own load shows the error
    }
  }

  let seq = 0;
  async function load(quiet: boolean): Promise<void> {
    clearTimeout(timer);
    const mine = ++seq; // a newer load (new filters, another page) wins over one still in flight
    if (!quiet) replace(msg, h('p', { class: 'loading', role: 'status' }, t('common.loading')));
    try {
      const [page] = await Promise.all([api.jobs(query()), refreshActive()]);
      if (stopped || mine !== seq) return;
      nextCursor = page.nextCursor;
      replace(tbody, page.jobs.map(row));
      replace(msg, page.jobs.length ? null : h('p', { class: 'empty' }, q.value || status.value || type.value || objType.value ? t('dash.noMatch') : t('dash.empty')));
      prev.disabled = pageIndex === 0;
      next.disabled = !nextCursor;
      pageInfo.textContent = t('dash.page', { n: pageIndex + 1 });
      const anyActive = page.jobs.some((j) => isActive(j.status)) || newBtn.disabled;
      timer = window.setTimeout(() => void load(true), anyActive ? 2000 : 5000);
    } catch (e) {
      if (stopped || mine !== seq) return;
      replace(msg, errorNotice(e));
      timer = window.setTimeout(() => void load(true), 10000);
    }
  }

  void (async () => {
    names = await typeNames();
    try {
      for (const ty of await objectTypes()) objType.appendChild(h('option', { value: ty.slug }, ty.name));
    } catch {
      // the list still works without the type filter's names
    }
    await load(false);
  })();

  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(searchTimer);
  };
};
