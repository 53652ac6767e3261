// One job: status, counts, a progress bar with the ETA that follows the job
// while it runs (no reload), the first rejected rows inline with downloads of
// the error and results CSVs, or the export's ZIP.

import { h, replace, download } from '../dom';
import { t } from '../i18n';
import { ApiError, api, type Job } from '../api';
import { badge, isActive, num, typeName, when } from '../format';
import { rejectedRows, type Rejected } from '../csv';
import { countTiles, deliveryText, errorNotice, loading, notice, pageHead, progress, typeNames } from '../ui';
import type { Page } from '../main';

const SHOWN_ERRORS = 10;
/** How long a job that is not found yet is waited for (the workflow records it when the upload arrives). */
const PICKUP_WAIT_MS = 120_000;

export const jobPage: Page = (main, params, query) => {
  const jobId = params[0];
  let stopped = false;
  let timer: number | undefined;
  let names = new Map<string, string>();
  // Right after an upload the workflow has not recorded the job yet: wait for it.
  const waitUntil = query.get('uploaded') ? Date.now() + PICKUP_WAIT_MS : 0;
  let rejected: Rejected[] | undefined;
  let rejectedErr: unknown;
  let lastStatus = '';

  const body = h('div', { class: 'job-body' });
  const live = h('p', { class: 'sr-only', 'aria-live': 'polite', 'data-testid': 'job-live' });
  replace(main, h('div', { class: 'crumbs' }, h('a', { href: '#/' }, t('job.back'))), body, live);
  replace(body, loading());

  async function fetchFile(which: 'errors' | 'results' | 'changes', btn: HTMLButtonElement): Promise<void> {
    btn.disabled = true;
    try {
      const j = await api.job(jobId); // fresh short-lived links
      const link = j.links?.[which];
      if (link) download(link);
    } catch (e) {
      btn.after(errorNotice(e));
    } finally {
      btn.disabled = false;
    }
  }

  async function loadRejected(j: Job): Promise<void> {
    if (rejected || !j.links?.errors) return;
    try {
      const res = await fetch(j.links.errors);
      if (!res.ok) throw new Error(t('job.errorsUnavailable'));
      rejected = rejectedRows(await res.text(), SHOWN_ERRORS);
    } catch (e) {
      rejectedErr = e;
    }
  }

  // Cancel asks once more on the same button (no modal dialog): the first
  // click arms it, the second cancels; the answer is the job as it ended.
  let cancelArmed = false;
  function cancelButton(): HTMLElement {
    const b = h('button', { type: 'button', class: cancelArmed ? 'btn btn-danger' : 'btn', 'data-testid': 'cancel-job', title: t('job.cancelHint') }, cancelArmed ? t('job.cancelConfirm') : t('job.cancel'));
    b.addEventListener('click', () => {
      if (!cancelArmed) {
        cancelArmed = true;
        b.textContent = t('job.cancelConfirm');
        b.className = 'btn btn-danger';
        return;
      }
      b.disabled = true;
      void (async () => {
        try {
          const j = await api.cancelJob(jobId);
          clearTimeout(timer);
          if (j.counts.failed > 0 && j.type === 'import') await loadRejected(j);
          if (!stopped) render(j);
        } catch (e) {
          b.disabled = false;
          b.after(errorNotice(e));
        }
      })();
    });
    return b;
  }

  // Apply, like Cancel, asks once more on the same button; the answer names
  // the new import, whose page follows it. A refusal (412: objects changed
  // since the preview, or the preview is too old) shows the API's sentence.
  let applyArmed = false;
  function applyButton(): HTMLElement {
    const b = h('button', { type: 'button', class: applyArmed ? 'btn btn-danger' : 'btn btn-primary', 'data-testid': 'apply-changes', title: t('job.applyHint') }, applyArmed ? t('job.applyConfirm') : t('job.apply'));
    b.addEventListener('click', () => {
      if (!applyArmed) {
        applyArmed = true;
        b.textContent = t('job.applyConfirm');
        b.className = 'btn btn-danger';
        return;
      }
      b.disabled = true;
      void (async () => {
        try {
          const a = await api.applyJob(jobId);
          location.hash = `#/jobs/${encodeURIComponent(a.jobId)}?uploaded=1`;
        } catch (e) {
          applyArmed = false;
          b.textContent = t('job.apply');
          b.className = 'btn btn-primary';
          b.disabled = false;
          b.after(errorNotice(e));
        }
      })();
    });
    return b;
  }

  // Retry rejected rows: a new import of the rows this job rejected or did
  // not process (read from its original file), once their cause is fixed;
  // the page moves to the new job, recorded at once (New while the retry
  // function builds its file).
  function retryButton(): HTMLElement {
    const b = h('button', { type: 'button', class: 'btn', 'data-testid': 'retry-job', title: t('job.retryHint') }, t('job.retry'));
    b.addEventListener('click', () => {
      b.disabled = true;
      void (async () => {
        try {
          const r = await api.retryJob(jobId);
          location.hash = `#/jobs/${r.jobId}?uploaded=1`;
        } catch (e) {
          b.disabled = false;
          b.after(errorNotice(e));
        }
      })();
    });
    return b;
  }

  function previewSection(j: Job): HTMLElement | null {
    if (j.type !== 'import' || !j.dryRun || !j.links?.changes) return null;
    const c = j.counts;
    const changes = c.created + c.updated > 0;
    const dl = h('button', { type: 'button', class: 'btn', 'data-testid': 'download-changes' }, t('job.downloadChanges'));
    dl.addEventListener('click', () => void fetchFile('changes', dl));
    return h(
      'section',
      { class: 'card', 'aria-labelledby': 'preview-h', 'data-testid': 'preview' },
      h('h2', { id: 'preview-h' }, t('job.preview')),
      h('p', { 'data-testid': 'preview-summary' }, changes ? t('job.previewSummary', { created: num(c.created), updated: num(c.updated), unchanged: num(c.unchanged), failed: num(c.failed) }) : t('job.previewNone')),
      changes ? h('p', { class: 'sub' }, t('job.previewHint')) : null,
      h('div', { class: 'actions' }, dl, changes ? applyButton() : null),
    );
  }

  function render(j: Job): void {
    const exportJob = j.type === 'export';
    const running = isActive(j.status);
    const typeLabel = typeName(j.objectType, names);
    const fileBtn = (label: string, which: 'errors' | 'results', primary: boolean, testid: string) => {
      const b = h('button', { type: 'button', class: primary ? 'btn btn-primary' : 'btn', 'data-testid': testid }, label);
      b.addEventListener('click', () => void fetchFile(which, b));
      return b;
    };
    const actions: HTMLElement[] = [];
    if (exportJob && j.status === 'Completed' && j.links?.results) actions.push(fileBtn(j.fileName.toLowerCase().endsWith('.csv') ? t('job.downloadCsv') : t('job.downloadZip'), 'results', true, 'download-zip'));
    if (!exportJob && j.links?.errors) actions.push(fileBtn(t('job.downloadErrors'), 'errors', true, 'download-errors'));
    if (!exportJob && j.links?.results) actions.push(fileBtn(t('job.downloadResults'), 'results', false, 'download-results'));
    if (running) actions.push(cancelButton());
    if (!exportJob && !running && j.counts.failed > 0 && !j.retriedBy && j.objectType !== 'audio-file') actions.push(retryButton());
    if (!exportJob && !running) actions.push(h('a', { class: 'btn', href: `#/import?type=${encodeURIComponent(j.objectType)}`, 'data-testid': 'import-again' }, j.counts.failed > 0 ? t('job.fixAndImport') : t('job.importAnother')));

    const label = exportJob
      ? t('job.progressExport', { n: num(j.counts.processed) })
      : running && j.counts.total > 0 && j.counts.processed >= j.counts.total
        ? t('job.finishing')
        : t('job.progressImport', { done: num(j.counts.processed), total: num(j.counts.total) });

    const outcome: (HTMLElement | null)[] = [];
    if (j.status === 'Cancelled') outcome.push(notice('warning', h('strong', null, t('job.cancelled')), ' ', j.message || ''));
    else if (j.status === 'Failed') outcome.push(notice('error', h('strong', null, t('job.failed')), ' ', j.message || ''));
    else if (j.status === 'Completed with errors') outcome.push(notice('warning', h('strong', null, t('job.withErrors')), ' ', t('job.withErrorsHint', { n: num(j.counts.failed) })));
    else if (j.status === 'Completed') outcome.push(notice('success', h('strong', null, t('job.done')), ' ', exportJob ? [t('job.doneExport', { n: num(j.counts.processed) }), j.delivery && j.delivery.kind !== 's3link' && !j.delivery.phase ? ` ${t('job.deliveredTo', { name: j.delivery.targetName || j.delivery.destination || j.delivery.targetId })}` : null] : j.dryRun ? t('job.doneDryRun') : t('job.doneImport')));
    else if (j.message) outcome.push(notice('info', j.message));

    let errorsSection: HTMLElement | null = null;
    if (!exportJob && j.counts.failed > 0 && !running) {
      let content: HTMLElement;
      if (rejected) {
        content = h(
          'div',
          { class: 'table-scroll' },
          h(
            'table',
            { class: 'table errors-table' },
            h('caption', { class: 'sr-only' }, t('job.rejectedCaption')),
            h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('job.col.row')), h('th', { scope: 'col' }, t('job.col.column')), h('th', { scope: 'col' }, t('job.col.code')), h('th', { scope: 'col' }, t('job.col.message')))),
            h(
              'tbody',
              null,
              rejected.map((r) => h('tr', null, h('td', { class: 'num' }, r.row), h('td', null, r.column || '—'), h('td', null, h('code', null, r.code)), h('td', null, r.message))),
            ),
          ),
        );
      } else if (rejectedErr) content = errorNotice(rejectedErr);
      else content = loading();
      errorsSection = h(
        'section',
        { class: 'card', 'aria-labelledby': 'rejected-h' },
        h('h2', { id: 'rejected-h' }, t('job.rejected')),
        h('p', { class: 'sub' }, j.counts.failed > SHOWN_ERRORS ? t('job.rejectedFirst', { shown: SHOWN_ERRORS, n: num(j.counts.failed) }) : t('job.rejectedAll'), ' ', t('job.rejectedFix')),
        content,
      );
    }

    replace(
      body,
      pageHead(j.fileName, h('span', { class: 'sub-line' }, t(exportJob ? 'jobType.export' : 'jobType.import'), ' · ', typeLabel, ' · ', badge(j.status), j.dryRun ? h('span', { class: 'tag' }, t('dash.dryRun')) : null), ...actions),
      outcome,
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'progress-h' },
        h('h2', { id: 'progress-h', class: 'sr-only' }, t('job.progress')),
        progress(j.percent, label, j.etaSeconds, running),
        countTiles(j.counts, exportJob),
      ),
      previewSection(j),
      errorsSection,
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'details-h' },
        h('h2', { id: 'details-h' }, t('job.details')),
        h(
          'dl',
          { class: 'details' },
          [
            [t('job.id'), h('span', { class: 'mono' }, j.id)],
            [t('job.type'), t(exportJob ? 'jobType.export' : 'jobType.import')],
            [t('job.objectType'), typeLabel],
            [t('job.status'), badge(j.status)],
            j.retryOf ? [t('job.retryOf'), h('a', { class: 'mono', href: `#/jobs/${j.retryOf}`, 'data-testid': 'retry-of' }, j.retryOf)] : null,
            j.retriedBy ? [t('job.retriedBy'), h('a', { class: 'mono', href: `#/jobs/${j.retriedBy}`, 'data-testid': 'retried-by' }, j.retriedBy)] : null,
            [t('job.submittedBy'), j.submittedBy],
            [t('job.submitted'), when(j.submittedAt)],
            [t('job.started'), when(j.startedAt)],
            [t('job.ended'), when(j.endedAt)],
            exportJob && j.files ? [t('job.files'), num(j.files)] : null,
            exportJob && j.delivery ? [t('job.delivery'), deliveryText(j.delivery)] : null,
            !exportJob ? [t('job.dryRunLabel'), j.dryRun ? t('common.yes') : t('common.no')] : null,
          ]
            .filter((x): x is [string, HTMLElement | string] => x !== null)
            .map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))),
        ),
      ),
    );
    if (j.status !== lastStatus) {
      live.textContent = t('job.statusNow', { status: badge(j.status).textContent || j.status });
      lastStatus = j.status;
    }
  }

  async function poll(): Promise<void> {
    try {
      const j = await api.job(jobId);
      if (stopped) return;
      if (!isActive(j.status) && j.counts.failed > 0 && j.type === 'import') await loadRejected(j);
      if (stopped) return;
      render(j);
      if (isActive(j.status)) timer = window.setTimeout(() => void poll(), 700);
    } catch (e) {
      if (stopped) return;
      if (e instanceof ApiError && e.status === 404 && Date.now() < waitUntil) {
        replace(body, pageHead(t('job.waitingTitle'), jobId), h('section', { class: 'card' }, progress(0, t('job.waiting'), undefined, false)));
        timer = window.setTimeout(() => void poll(), 1000);
        return;
      }
      replace(body, pageHead(t('job.title')), errorNotice(e));
    }
  }

  void (async () => {
    names = await typeNames();
    await poll();
  })();

  return () => {
    stopped = true;
    clearTimeout(timer);
  };
};
