// New import: choose the object type (its columns described, templates to
// download), drop or choose a file (checked in the browser first: type,
// size against the tenant's limit, empty file, encoding, header), a dry-run
// switch, then the upload straight to S3 with the API's presigned POST.

import { h, id, replace, saveBlob, svg } from '../dom';
import { t, tn } from '../i18n';
import { ApiError, activeJob, api, uploadFile, type ImportTicket, type ObjectType } from '../api';
import { checkHeader, decode, detectDelimiter, parse, sniffEncoding, type HeaderProblem } from '../csv';
import { bytes } from '../format';
import { button, errorNotice, errorText, field, loading, notice, objectTypes, pageHead, progress, switchControl } from '../ui';
import type { Page } from '../main';

const AUDIO = 'audio-file';
/** The most a file may be for any tenant (large-file tenants); the tenant's own limit comes from the API. */
const HARD_MAX = 500 * 1024 * 1024;
const SAMPLE = 5 * 1024 * 1024;

/** maxRows is the row limit that goes with a tenant's size limit (csvread's default and large-file limits). */
function maxRows(maxBytes: number): number {
  return maxBytes > 5 * 1024 * 1024 ? 1_000_000 : 5_000;
}

type Check = { ok: 'ok' | 'warn' | 'fail'; label: string; detail: string };

export const importPage: Page = (main, _params, query) => {
  let stopped = false;
  let types: ObjectType[] = [];
  let file: File | undefined;
  let checks: Check[] = [];
  let busy = false;
  let limit: number | undefined;

  const busySlot = h('div', { 'aria-live': 'polite' });
  const typeSelect = h('select', { name: 'objectType', required: true });
  const typeInfo = h('div', { class: 'type-info' });
  const fileInput = h('input', { type: 'file', accept: '.csv,text/csv', class: 'file-input', 'data-testid': 'file-input' });
  const dropText = h('span', { class: 'drop-text' }, h('strong', null, t('import.dropTitle')), h('span', null, t('import.dropOr')), h('span', { class: 'btn btn-small', 'aria-hidden': 'true' }, t('import.choose')));
  const dropLabelId = id('drop');
  fileInput.id = id('file');
  fileInput.setAttribute('aria-labelledby', dropLabelId);
  const drop = h('label', { class: 'dropzone', for: fileInput.id, id: dropLabelId, 'data-testid': 'dropzone' }, h('span', { class: 'drop-icon', 'aria-hidden': 'true' }, svg(['M12 16V4', 'M7 9l5-5 5 5', 'M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-3'])), dropText);
  const checkList = h('div', { class: 'checks', 'aria-live': 'polite' });
  let dryRun = false;
  const dry = switchControl(t('import.dryRun'), false, (on) => {
    dryRun = on;
  });
  const startBtn = h('button', { type: 'button', class: 'btn btn-primary btn-large', disabled: true }, t('import.start'));
  const status = h('div', { class: 'upload-status', 'aria-live': 'polite' });

  replace(
    main,
    pageHead(t('import.title'), t('import.sub')),
    busySlot,
    h(
      'section',
      { class: 'card step', 'aria-labelledby': 'step1' },
      h('h2', { id: 'step1' }, h('span', { class: 'step-n', 'aria-hidden': 'true' }, '1'), t('import.step1')),
      field(t('import.objectType'), typeSelect),
      typeInfo,
    ),
    h(
      'section',
      { class: 'card step', 'aria-labelledby': 'step2' },
      h('h2', { id: 'step2' }, h('span', { class: 'step-n', 'aria-hidden': 'true' }, '2'), t('import.step2')),
      h('div', { class: 'drop-wrap' }, drop, fileInput),
      checkList,
    ),
    h(
      'section',
      { class: 'card step', 'aria-labelledby': 'step3' },
      h('h2', { id: 'step3' }, h('span', { class: 'step-n', 'aria-hidden': 'true' }, '3'), t('import.step3')),
      h('div', { class: 'dry' }, dry, h('p', { class: 'hint' }, t('import.dryRunHint'))),
      h('div', { class: 'start-row' }, startBtn),
      status,
    ),
  );

  const current = (): ObjectType | undefined => types.find((ty) => ty.slug === typeSelect.value);
  const isAudio = () => typeSelect.value === AUDIO;

  function describe(): void {
    const ty = current();
    fileInput.accept = isAudio() ? '.zip,application/zip' : '.csv,text/csv';
    if (isAudio()) {
      replace(typeInfo, h('p', null, t('import.audioInfo')));
      return;
    }
    if (!ty) {
      replace(typeInfo);
      return;
    }
    const required = ty.columns.filter((c) => c.required).map((c) => c.header);
    const tpl = async (example: boolean, b: HTMLButtonElement) => {
      b.disabled = true;
      try {
        saveBlob(await api.template(ty.slug, example), `${ty.slug}-${example ? 'example' : 'template'}.csv`);
      } catch (e) {
        replace(status, errorNotice(e));
      } finally {
        b.disabled = false;
      }
    };
    const blank: HTMLButtonElement = button(t('import.templateBlank'), () => void tpl(false, blank), 'btn', { 'data-testid': 'template-blank' });
    const example: HTMLButtonElement = button(t('import.templateExample'), () => void tpl(true, example), 'btn', { 'data-testid': 'template-example' });
    replace(
      typeInfo,
      h(
        'p',
        { class: 'type-summary' },
        t('import.keyIs', { key: ty.key.join(' + ') }),
        ' ',
        required.length ? t('import.required', { cols: required.join(', ') }) : '',
      ),
      h(
        'ul',
        { class: 'col-chips', 'aria-label': t('import.columns', { type: ty.name }) },
        ty.columns.map((c) => h('li', { class: c.required ? 'chip chip-req' : 'chip', title: c.doc || '' }, c.header, c.required ? h('span', { class: 'sr-only' }, ` (${t('types.required')})`) : null)),
        (ty.columnFamilies ?? []).map((f) => h('li', { class: 'chip chip-family' }, f)),
      ),
      ty.notes?.length ? h('p', { class: 'hint' }, ty.notes[0]) : null,
      h('div', { class: 'btn-row' }, blank, example, h('a', { href: `#/types/${ty.slug}`, class: 'link' }, t('import.reference'))),
    );
  }

  function renderChecks(): void {
    if (!file) {
      replace(checkList);
      return;
    }
    const icon = { ok: '✓', warn: '!', fail: '✗' };
    replace(
      checkList,
      h('p', { class: 'file-chosen' }, h('strong', { 'data-testid': 'chosen-file' }, file.name), ' · ', bytes(file.size)),
      h(
        'ul',
        { class: 'check-list', 'aria-label': t('import.checks') },
        checks.map((c) => h('li', { class: `check check-${c.ok}`, 'data-check': c.ok }, h('span', { class: 'check-icon', 'aria-hidden': 'true' }, icon[c.ok]), h('span', null, h('strong', null, c.label), ' ', c.detail))),
      ),
    );
    updateStart();
  }

  function updateStart(): void {
    startBtn.disabled = busy || !file || checks.some((c) => c.ok === 'fail');
  }

  function headerDetail(p: HeaderProblem, ty: ObjectType): string {
    switch (p.kind) {
      case 'blank':
        return t('check.header.blank', { n: p.column! });
      case 'duplicate':
        return t('check.header.duplicate', { h: p.header, n: p.column! });
      case 'unknown':
        return t('check.header.unknown', { h: p.header, n: p.column!, type: ty.name });
      case 'missing':
        return t('check.header.missing', { h: p.header });
      default:
        return t('check.header.action');
    }
  }

  let generation = 0;
  async function check(f: File): Promise<void> {
    file = f;
    const mine = ++generation; // a later file or type wins over a check still reading
    const list: Check[] = [];
    const audio = isAudio();
    const ext = audio ? '.zip' : '.csv';
    list.push(f.name.toLowerCase().endsWith(ext) ? { ok: 'ok', label: t('check.type'), detail: t('check.typeOk', { ext }) } : { ok: 'fail', label: t('check.type'), detail: t('check.typeBad', { ext }) });
    if (f.size === 0) list.push({ ok: 'fail', label: t('check.size'), detail: t('check.empty') });
    else if (limit !== undefined && f.size > limit) list.push({ ok: 'fail', label: t('check.size'), detail: t('check.tooBig', { size: bytes(f.size), limit: bytes(limit) }) });
    else if (f.size > HARD_MAX) list.push({ ok: 'fail', label: t('check.size'), detail: t('check.tooBig', { size: bytes(f.size), limit: bytes(HARD_MAX) }) });
    else list.push({ ok: 'ok', label: t('check.size'), detail: limit !== undefined ? t('check.sizeOk', { size: bytes(f.size), limit: bytes(limit) }) : bytes(f.size) });
    const ty = current();
    if (!audio && !ty) list.push({ ok: 'fail', label: t('check.objectType'), detail: t('check.pickType') });
    if (f.size > 0 && list[0].ok === 'ok') {
      const sample = new Uint8Array(await f.slice(0, SAMPLE).arrayBuffer());
      if (audio) {
        const zip = sample[0] === 0x50 && sample[1] === 0x4b && sample[2] === 0x03 && sample[3] === 0x04;
        list.push(zip ? { ok: 'ok', label: t('check.zip'), detail: t('check.zipOk') } : { ok: 'fail', label: t('check.zip'), detail: t('check.zipBad') });
      } else if (ty) {
        const whole = f.size <= SAMPLE;
        const enc = sniffEncoding(sample, whole);
        if (enc === 'utf-16') list.push({ ok: 'fail', label: t('check.encoding'), detail: t('check.utf16') });
        else if (enc === 'binary') list.push({ ok: 'fail', label: t('check.encoding'), detail: t('check.binary') });
        else {
          list.push(enc === 'legacy' ? { ok: 'warn', label: t('check.encoding'), detail: t('check.legacy') } : { ok: 'ok', label: t('check.encoding'), detail: t(enc === 'utf-8-bom' ? 'check.utf8bom' : 'check.utf8') });
          const text = decode(sample, enc);
          const delim = detectDelimiter(text);
          const rows = parse(text, delim, Infinity, !whole);
          const header = rows[0] ?? [];
          const problems = checkHeader(header, ty);
          if (problems.length) list.push({ ok: 'fail', label: t('check.header'), detail: problems.map((p) => headerDetail(p, ty)).join(' ') });
          else list.push({ ok: 'ok', label: t('check.header'), detail: t('check.headerOk', { n: header.length, type: ty.name }) });
          const dataRows = Math.max(0, rows.length - 1);
          if (dataRows === 0) list.push({ ok: 'fail', label: t('check.rows'), detail: t('check.noRows') });
          else if (limit !== undefined && dataRows > maxRows(limit)) list.push({ ok: 'fail', label: t('check.rows'), detail: t('check.tooManyRows', { n: dataRows, max: maxRows(limit) }) });
          else list.push({ ok: 'ok', label: t('check.rows'), detail: whole ? tn('check.rowCount', dataRows) : tn('check.rowCountAtLeast', dataRows) });
        }
      }
    }
    if (mine !== generation || stopped) return;
    checks = list;
    replace(status);
    renderChecks();
  }

  async function probeLimit(): Promise<void> {
    // The tenant's size limit comes with an upload ticket (no job exists until a file is uploaded with it).
    if (!file || busy || !typeSelect.value || checks.some((c) => c.ok === 'fail')) return;
    const probed = file;
    try {
      const ticket = await api.createImport(typeSelect.value, probed.name, false);
      limit = ticket.maxBytes;
      if (file === probed) await check(probed);
    } catch {
      // start shows any error
    }
  }

  function choose(f: File | undefined): void {
    if (!f) return;
    void check(f).then(probeLimit);
  }

  fileInput.addEventListener('change', () => choose(fileInput.files?.[0]));
  for (const ev of ['dragenter', 'dragover']) {
    drop.addEventListener(ev, (e) => {
      e.preventDefault();
      drop.classList.add('dragging');
    });
  }
  for (const ev of ['dragleave', 'drop']) drop.addEventListener(ev, () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    choose((e as DragEvent).dataTransfer?.files?.[0]);
  });
  typeSelect.addEventListener('change', () => {
    describe();
    if (file) void check(file).then(probeLimit);
  });

  startBtn.addEventListener('click', () => void start());

  async function start(): Promise<void> {
    if (!file) return;
    startBtn.disabled = true;
    const f = file;
    replace(status, progress(0, t('import.uploading'), undefined, false));
    let ticket: ImportTicket;
    try {
      ticket = await api.createImport(typeSelect.value, f.name, dryRun);
    } catch (e) {
      showStartError(e);
      return;
    }
    if (f.size > ticket.maxBytes) {
      replace(status, notice('error', t('check.tooBig', { size: bytes(f.size), limit: bytes(ticket.maxBytes) })));
      updateStart();
      return;
    }
    try {
      await uploadFile(ticket.upload, f, ticket.fileName, (p) => {
        if (!stopped) replace(status, progress(p * 100, t('import.uploading'), undefined, false));
      });
    } catch (e) {
      replace(status, notice('error', t('import.uploadFailed', { why: errorText(e) })));
      updateStart();
      return;
    }
    location.hash = `#/jobs/${ticket.jobId}?uploaded=1`;
  }

  function showStartError(e: unknown): void {
    if (e instanceof ApiError && e.activeJobId) {
      replace(status, notice('error', errorText(e), ' ', h('a', { href: `#/jobs/${e.activeJobId}` }, t('import.viewActive'))));
    } else replace(status, errorNotice(e));
    updateStart();
  }

  async function refreshBusy(): Promise<void> {
    try {
      const a = await activeJob();
      busy = Boolean(a);
      replace(busySlot, a ? notice('warning', h('strong', null, t('dash.busyTitle')), ' ', t('import.busy', { file: a.fileName }), ' ', h('a', { href: `#/jobs/${a.id}` }, t('dash.busyLink', { id: a.id }))) : null);
      updateStart();
    } catch {
      // the start button reports errors
    }
  }

  replace(typeInfo, loading());
  void (async () => {
    try {
      types = await objectTypes();
    } catch (e) {
      replace(typeInfo, errorNotice(e));
      return;
    }
    if (stopped) return;
    replace(
      typeSelect,
      h('option', { value: '' }, t('import.pickType')),
      types.map((ty) => h('option', { value: ty.slug }, ty.name)),
      h('option', { value: AUDIO }, t('import.audioType')),
    );
    const want = query.get('type');
    if (want && (types.some((ty) => ty.slug === want) || want === AUDIO)) typeSelect.value = want;
    describe();
    await refreshBusy();
  })();
  const timer = window.setInterval(() => void refreshBusy(), 5000);

  return () => {
    stopped = true;
    clearInterval(timer);
  };
};
