// Building blocks shared by the pages: headings, notices, progress bars,
// labelled fields, switches.

import { h, id, replace, type Child } from './dom';
import { t } from './i18n';
import { ApiError, api, type Delivery, type ObjectType } from './api';
import { eta, num } from './format';

/** errorText is what the page says about a failure: the API's problem detail, never raw JSON. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'NETWORK') return t('error.network');
    return err.message;
  }
  if (err instanceof Error && err.message) return err.message;
  return t('error.unexpected');
}

/** notice is a message box; kind error is announced at once (role=alert). */
export function notice(kind: 'error' | 'info' | 'success' | 'warning', ...children: Child[]): HTMLElement {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

export function errorNotice(err: unknown): HTMLElement {
  return notice('error', errorText(err));
}

/** pageHead is the page's title (focused after navigation) and its actions. */
export function pageHead(title: string, sub?: Child, ...actions: Child[]): HTMLElement {
  return h(
    'div',
    { class: 'page-head' },
    h('div', null, h('h1', { tabindex: '-1' }, title), sub ? h('p', { class: 'sub' }, sub) : null),
    actions.length ? h('div', { class: 'actions' }, ...actions) : null,
  );
}

/** progress is a labelled progress bar with percent and ETA. */
export function progress(percent: number, label: string, etaSeconds?: number, running = true): HTMLElement {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  const pid = id('progress');
  return h(
    'div',
    { class: 'progress-wrap' },
    h('div', { class: 'progress-label', id: pid }, h('span', null, label), h('span', { class: 'progress-eta' }, running ? eta(etaSeconds) : '')),
    h('progress', { max: '100', value: String(p), 'aria-labelledby': pid, 'aria-valuetext': `${p}%` }),
    h('span', { class: 'progress-percent' }, `${p}%`),
  );
}

/** field wraps a control with its label and an optional hint and error slot. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const cid = control.id || id('c');
  control.id = cid;
  const parts: Child[] = [h('label', { for: cid }, label), control];
  if (hint) {
    const hid = id('hint');
    control.setAttribute('aria-describedby', hid);
    parts.push(h('p', { class: 'hint', id: hid }, hint));
  }
  return h('div', { class: 'field' }, ...parts);
}

/** switchControl is an on/off switch (a checkbox with role switch). */
export function switchControl(label: string, on: boolean, onChange: (on: boolean, el: HTMLInputElement) => void, disabled = false): HTMLElement {
  const input = h('input', { type: 'checkbox', role: 'switch', class: 'switch-input', checked: on, disabled, 'aria-checked': String(on) });
  input.addEventListener('change', () => {
    input.setAttribute('aria-checked', String(input.checked));
    onChange(input.checked, input);
  });
  return h('label', { class: 'switch' }, input, h('span', { class: 'switch-track', 'aria-hidden': 'true' }), h('span', { class: 'switch-label' }, label));
}

export function button(label: string, onClick: (ev: MouseEvent) => void, cls = 'btn', attrs: Record<string, string | boolean> = {}): HTMLButtonElement {
  return h('button', { type: 'button', class: cls, onclick: onClick, ...attrs }, label);
}

/** counts shows a job's counts as a row of figures. */
export function countTiles(c: { total: number; processed: number; created: number; updated: number; unchanged: number; failed: number }, exportJob: boolean): HTMLElement {
  const tiles: [string, number, string][] = exportJob
    ? [[t('job.count.rows'), c.processed, 'total']]
    : [
        [t('job.count.total'), c.total, 'total'],
        [t('job.count.processed'), c.processed, 'processed'],
        [t('job.count.created'), c.created, 'created'],
        [t('job.count.updated'), c.updated, 'updated'],
        [t('job.count.unchanged'), c.unchanged, 'unchanged'],
        [t('job.count.failed'), c.failed, 'failed'],
      ];
  return h(
    'dl',
    { class: 'tiles' },
    tiles.map(([label, n, cls]) => h('div', { class: `tile tile-${cls}`, 'data-count': cls }, h('dt', null, label), h('dd', null, num(n)))),
  );
}

let typesCache: Promise<ObjectType[]> | undefined;
/** objectTypes loads the type registry once per page load. */
export function objectTypes(): Promise<ObjectType[]> {
  typesCache ??= api.objectTypes().catch((e) => {
    typesCache = undefined;
    throw e;
  });
  return typesCache;
}

export async function typeNames(): Promise<Map<string, string>> {
  const m = new Map<string, string>([['audio-file', t('import.audioType')]]);
  try {
    for (const ty of await objectTypes()) m.set(ty.slug, ty.name);
  } catch {
    // names fall back to slugs
  }
  return m;
}

/** loading is a placeholder while a page fetches its data. */
export function loading(): HTMLElement {
  return h('p', { class: 'loading', role: 'status' }, t('common.loading'));
}

/** validPrefix is the API's rule for export file name prefixes. */
export const PREFIX_RE = /^[A-Za-z0-9_-]{0,20}$/;

/**
 * A labelled control with a hint and an error slot next to it; setError
 * marks the control invalid (aria-invalid, the message in its
 * aria-describedby) or clears it.
 */
export interface FormField {
  el: HTMLElement;
  control: HTMLElement;
  setError(message?: string): void;
}

export function formField(label: string, control: HTMLElement, hint?: string, attrs: Record<string, string> = {}): FormField {
  control.id ||= id('c');
  const errId = id('err');
  const err = h('p', { class: 'field-error', id: errId, hidden: true, 'data-field-error': '' });
  const described: string[] = [];
  const parts: Child[] = [h('label', { for: control.id }, label), control];
  if (hint) {
    const hid = id('hint');
    described.push(hid);
    parts.push(h('p', { class: 'hint', id: hid }, hint));
  }
  parts.push(err);
  described.push(errId);
  control.setAttribute('aria-describedby', described.join(' '));
  const el = h('div', { class: 'field', ...attrs }, ...parts);
  return {
    el,
    control,
    setError(message?: string) {
      err.hidden = !message;
      err.textContent = message || '';
      if (message) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    },
  };
}

/**
 * showProblem puts a refused request's field errors (the problem's
 * `errors`, RFC 6901 pointers) next to their fields, the nearest enclosing
 * field when the pointer goes deeper than the form (/sftp/port/x → /sftp/port),
 * and says the rest in status. It returns whether any field was marked,
 * and focuses the first.
 */
export function showProblem(err: unknown, fields: Record<string, FormField>, status: HTMLElement): boolean {
  for (const f of Object.values(fields)) f.setError();
  const problems = err instanceof ApiError ? [...err.fields] : [];
  let first: FormField | undefined;
  const rest: string[] = [];
  for (const p of problems) {
    let ptr = p.pointer;
    while (ptr && !fields[ptr]) ptr = ptr.slice(0, ptr.lastIndexOf('/'));
    const f = ptr ? fields[ptr] : undefined;
    if (f) {
      f.setError(p.detail);
      first ??= f;
    } else rest.push(p.detail);
  }
  if (!first) {
    replace(status, errorNotice(err));
    return false;
  }
  replace(status, notice('error', t('form.fixFields'), ...rest.map((r) => ` ${r}`)));
  first.control.focus();
  return true;
}

/** tabs is the settings pages' sub-navigation. */
export function settingsTabs(active: 'limits' | 'targets' | 'notifications' | 'operator', operator: boolean, tenant: boolean): HTMLElement {
  const items: [string, string, string][] = [];
  if (tenant) {
    items.push(['limits', '#/settings', t('settings.tab.limits')]);
    items.push(['targets', '#/settings/targets', t('settings.tab.targets')]);
    items.push(['notifications', '#/settings/notifications', t('settings.tab.notifications')]);
  }
  if (operator) items.push(['operator', '#/operator', t('settings.tab.operator')]);
  return h('nav', { class: 'tabs', 'aria-label': t('settings.tabs') }, h('ul', null, items.map(([k, href, label]) => h('li', null, h('a', { href, 'aria-current': k === active ? 'page' : null }, label)))));
}

/**
 * deliveryText says where an export's file was delivered (the destination
 * and the remote file name) or in which phase its delivery failed; '—' for
 * the download link only.
 */
export function deliveryText(d?: Delivery): HTMLElement | string {
  if (!d || d.kind === 's3link') return '—';
  if (d.error || d.phase) return h('span', { class: 'error-text' }, t('delivery.failed', { phase: d.phase || '?' }), d.error ? `: ${d.error}` : '');
  return h(
    'span',
    { class: 'delivery' },
    d.targetName ? h('span', { class: 'strong' }, d.targetName) : null,
    d.destination ? h('span', { class: 'mono', 'data-testid': 'delivery-destination' }, d.destination) : null,
    // The remote name is said on its own when the destination does not end with it.
    d.remoteName && !d.destination?.endsWith(`/${d.remoteName}`) ? h('span', { class: 'small muted' }, t('delivery.remoteName', { name: d.remoteName })) : null,
  );
}
