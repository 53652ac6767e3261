// Formatting of times, durations, sizes and statuses for the pages.

import { h } from './dom';
import { formatLocale, t } from './i18n';
import type { MessageKey } from './messages/en';
import type { Status } from './api';

/** when shows an instant in the user's time zone, with UTC on hover. */
export function when(iso?: string | null): HTMLElement | string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1971) return '—';
  const local = new Intl.DateTimeFormat(formatLocale, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
  const utc = `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  return h('time', { datetime: d.toISOString(), title: utc }, local);
}

/** eta says how long is left, roughly. */
export function eta(seconds?: number): string {
  if (seconds === undefined || seconds === null) return t('eta.unknown');
  if (seconds < 5) return t('eta.almost');
  if (seconds < 90) return t('eta.seconds', { n: Math.round(seconds) });
  if (seconds < 5400) return t('eta.minutes', { n: Math.round(seconds / 60) });
  return t('eta.hours', { n: Math.round(seconds / 360) / 10 });
}

/** bytes is a file size in KB/MB. */
export function bytes(n: number): string {
  const nf = (v: number, d = 1) => new Intl.NumberFormat(formatLocale, { maximumFractionDigits: d }).format(v);
  if (n < 1024) return `${nf(n, 0)} B`;
  if (n < 1024 * 1024) return `${nf(n / 1024)} KB`;
  return `${nf(n / 1024 / 1024)} MB`;
}

export function num(n: number): string {
  return new Intl.NumberFormat(formatLocale).format(n);
}

const statusKeys: Record<string, MessageKey> = {
  New: 'status.new',
  'In Progress': 'status.inProgress',
  Completed: 'status.completed',
  'Completed with errors': 'status.completedWithErrors',
  Failed: 'status.failed',
  Cancelled: 'status.cancelled',
  Unknown: 'status.unknown',
};

export function statusText(s: Status | string): string {
  return statusKeys[s] ? t(statusKeys[s]) : s;
}

/** badge is a status as a coloured pill (the colour is never the only cue: the text says it). */
export function badge(s: Status | string): HTMLElement {
  const cls = s.toLowerCase().replace(/\s+/g, '-');
  return h('span', { class: `badge badge-${cls}`, 'data-status': s }, statusText(s));
}

export function isActive(s: string): boolean {
  return s === 'New' || s === 'In Progress';
}

/** typeName is an object type slug shown by name (a comma list for a multi-type export). */
export function typeName(slug: string, names: Map<string, string>): string {
  return slug
    .split(',')
    .map((s) => names.get(s) || s)
    .join(', ');
}
