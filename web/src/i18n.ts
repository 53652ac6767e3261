// Message catalog lookup. English (messages/en.ts) is complete and defines
// the keys; Norwegian Bokmål (messages/nb.ts) covers at least the
// dashboard, the job page and the common parts (build.mjs checks it). The
// locale comes from the browser's language list.

import { en, type MessageKey } from './messages/en';
import { nb } from './messages/nb';

const catalogs: Record<string, Partial<Record<MessageKey, string>>> = { en, nb };

export let locale = 'en';
/** The locale used for dates and numbers (the browser's, e.g. nb-NO). */
export let formatLocale = 'en';

/** chooseLocale picks the first supported language of the browser. */
export function chooseLocale(languages: readonly string[]): string {
  for (const l of languages) {
    const base = l.toLowerCase().split('-')[0];
    if (base === 'nb' || base === 'no' || base === 'nn') return 'nb';
    if (base === 'en') return 'en';
  }
  return 'en';
}

export function initLocale(languages: readonly string[] = navigator.languages?.length ? navigator.languages : [navigator.language]): void {
  locale = chooseLocale(languages);
  formatLocale = languages.find((l) => chooseLocale([l]) === locale) || locale;
  document.documentElement.lang = locale;
}

/** t looks a message up and fills its {placeholders}. */
export function t(key: MessageKey, vars?: Record<string, string | number>): string {
  const msg = catalogs[locale]?.[key] ?? en[key];
  if (!vars) return msg;
  return msg.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? fmtValue(vars[name]) : m));
}

function fmtValue(v: string | number): string {
  return typeof v === 'number' ? new Intl.NumberFormat(formatLocale).format(v) : v;
}

/** tn picks key.one or key.other for n (by the locale's plural rules) and fills {n}. */
export function tn(key: string, n: number, vars?: Record<string, string | number>): string {
  const form = new Intl.PluralRules(locale).select(n) === 'one' ? 'one' : 'other';
  return t(`${key}.${form}` as MessageKey, { n, ...vars });
}
