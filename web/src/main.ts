// The console's shell: configuration, sign-in, the top bar and the hash
// router that renders one page at a time into <main>.

import { h, replace } from './dom';
import { loadConfig } from './config';
import { clearSession, completeSignIn, session, signIn, signOut } from './auth';
import { setOnUnauthenticated } from './api';
import { initLocale, t } from './i18n';
import type { MessageKey } from './messages/en';
import { errorNotice, notice } from './ui';
import { dashboardPage } from './pages/dashboard';
import { importPage } from './pages/import';
import { jobPage } from './pages/job';
import { exportPage } from './pages/export';
import { schedulesPage } from './pages/schedules';
import { scheduleFormPage } from './pages/scheduleForm';
import { scheduleHistoryPage } from './pages/scheduleHistory';
import { typesPage } from './pages/types';
import { targetsPage } from './pages/targets';
import { notificationsPage } from './pages/notifications';
import { operatorPage, settingsPage } from './pages/settings';

/** A page renders into main; it returns a function that stops its timers. */
export type Page = (main: HTMLElement, params: string[], query: URLSearchParams) => void | (() => void);

interface Route {
  re: RegExp;
  page: Page;
  nav: string;
}

const routes: Route[] = [
  { re: /^\/?$/, page: dashboardPage, nav: 'dashboard' },
  { re: /^\/import$/, page: importPage, nav: 'import' },
  { re: /^\/jobs\/([0-9A-Z]{26})$/, page: jobPage, nav: 'dashboard' },
  { re: /^\/export$/, page: exportPage, nav: 'export' },
  { re: /^\/schedules$/, page: schedulesPage, nav: 'schedules' },
  { re: /^\/schedules\/new$/, page: scheduleFormPage, nav: 'schedules' },
  { re: /^\/schedules\/([0-9A-Z]{26})\/edit$/, page: scheduleFormPage, nav: 'schedules' },
  { re: /^\/schedules\/([0-9A-Z]{26})$/, page: scheduleHistoryPage, nav: 'schedules' },
  { re: /^\/types(?:\/([a-z0-9-]+))?$/, page: typesPage, nav: 'types' },
  { re: /^\/settings$/, page: settingsPage, nav: 'settings' },
  { re: /^\/settings\/targets$/, page: targetsPage, nav: 'settings' },
  { re: /^\/settings\/notifications$/, page: notificationsPage, nav: 'settings' },
  { re: /^\/operator$/, page: operatorPage, nav: 'operator' },
];

const navItems: [string, string, MessageKey][] = [
  ['dashboard', '#/', 'nav.dashboard'],
  ['import', '#/import', 'nav.import'],
  ['export', '#/export', 'nav.export'],
  ['schedules', '#/schedules', 'nav.schedules'],
  ['types', '#/types', 'nav.types'],
  ['settings', '#/settings', 'nav.settings'],
];

let stop: (() => void) | undefined;
const app = document.getElementById('app')!;

function shell(active: string): HTMLElement {
  const s = session()!;
  const main = h('main', { id: 'main', tabindex: '-1' });
  const nav = h(
    'nav',
    { class: 'nav', 'aria-label': t('nav.label') },
    h(
      'ul',
      null,
      // An operator's token without a tenant reaches the operator page only.
      (s.tenant ? navItems : []).concat(s.operator ? [['operator', '#/operator', 'nav.operator']] : []).map(([key, href, label]) => h('li', null, h('a', { href, 'aria-current': key === active ? 'page' : null }, t(label)))),
    ),
  );
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'skip', href: '#main', onclick: (e: Event) => { e.preventDefault(); main.focus(); } }, t('nav.skip')),
    h('a', { class: 'brand', href: '#/' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'B'), h('span', null, t('app.name'))),
    nav,
    h(
      'div',
      { class: 'user' },
      h('span', { class: 'user-who' }, h('span', { class: 'user-email', 'data-testid': 'user-email' }, s.email), h('span', { class: 'user-tenant' }, s.tenant ? t('nav.tenant', { tenant: s.tenant }) : t('nav.operatorRole'))),
      h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => void signOut() }, t('nav.signOut')),
    ),
  );
  replace(app, header, main);
  return main;
}

function signedOutPage(message?: HTMLElement): void {
  const btn = h('button', { type: 'button', class: 'btn btn-primary btn-large', onclick: () => void signIn(location.hash && location.hash !== '#/signed-out' ? location.hash : '#/').catch((e) => replace(box, errorNotice(e))) }, t('auth.signIn'));
  const box = h('div', { class: 'signin-msg' }, message ?? null);
  replace(
    app,
    h(
      'main',
      { id: 'main', class: 'signin' },
      h(
        'div',
        { class: 'signin-card' },
        h('div', { class: 'brand brand-big' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'B'), h('span', null, t('app.name'))),
        h('h1', null, location.hash === '#/signed-out' ? t('auth.signedOut') : t('auth.title')),
        h('p', null, t('auth.intro')),
        box,
        btn,
      ),
    ),
  );
}

function route(): void {
  stop?.();
  stop = undefined;
  if (!session()) {
    signedOutPage();
    return;
  }
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  if (path === '/signed-out') {
    location.replace('#/');
    return;
  }
  if (!session()!.tenant && session()!.operator && path !== '/operator') {
    location.replace('#/operator');
    return;
  }
  for (const r of routes) {
    const m = r.re.exec(path);
    if (!m) continue;
    const main = shell(r.nav);
    stop = r.page(main, m.slice(1).filter((x) => x !== undefined), new URLSearchParams(qs || '')) || undefined;
    main.querySelector('h1')?.focus();
    return;
  }
  const main = shell('');
  replace(main, h('h1', { tabindex: '-1' }, t('notFound.title')), h('p', null, h('a', { href: '#/' }, t('notFound.back'))));
}

async function boot(): Promise<void> {
  initLocale();
  document.title = t('app.name');
  try {
    await loadConfig();
  } catch (e) {
    replace(app, h('main', { class: 'signin' }, notice('error', t('error.config'), ' ', String((e as Error).message))));
    return;
  }
  setOnUnauthenticated(() => {
    stop?.();
    stop = undefined;
    clearSession();
    signedOutPage(notice('info', t('auth.expired')));
  });
  try {
    const back = await completeSignIn();
    if (back !== null) location.hash = back;
  } catch (e) {
    signedOutPage(errorNotice(e));
    return;
  }
  window.addEventListener('hashchange', route);
  route();
}

void boot();
