// Shared helpers of the console's browser tests: Debian's Chromium driven
// by playwright-core (no downloaded browser), sign-in through the local
// OIDC issuer's page, axe-core checks, screenshots, and a watch on the
// browser console so a CSP violation or an uncaught error fails the test.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const here = new URL('.', import.meta.url).pathname;
export const root = join(here, '..', '..');
export const outDir = join(here, '..', 'test-output');
export const docsDir = join(root, 'docs', 'console');
export const consoleURL = `http://127.0.0.1:${process.env.BULKOPS_CONSOLE_PORT || '3002'}/`;
/** BULKOPS_SCREENSHOTS=docs also writes the README's screenshots into docs/console/. */
const toDocs = process.env.BULKOPS_SCREENSHOTS === 'docs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// The flags this machine's Chromium needs (no sandbox as root, no GPU, and
// no background connections to Google's hosts, which the closed network refuses).
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export async function launch() {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: infra/local/install.sh browser installs Debian's chromium`);
  mkdirSync(outDir, { recursive: true });
  if (toDocs) mkdirSync(docsDir, { recursive: true });
  // playwright-core gives every launch a new empty profile (user data dir).
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}

/** newPage opens a page that records console errors (CSP violations among them) and failed requests. */
export async function newPage(browser, { locale = 'en-GB', timezoneId = 'Europe/Oslo' } = {}) {
  const context = await browser.newContext({ locale, timezoneId, acceptDownloads: true, viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  // Offline from the dev server: nothing but the local stack is ever asked for.
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['blob:', 'data:'].includes(u.protocol) && u.hostname !== '127.0.0.1') page.problems.push(`request outside the local stack: ${r.url()}`);
  });
  page.setDefaultTimeout(20_000);
  return page;
}

/** expectNoProblems fails on console errors; expected ones (an API 404 the page handles) can be allowed. */
export function expectNoProblems(page, allow = []) {
  const left = page.problems.filter((p) => !allow.some((re) => re.test(p)));
  page.problems = [];
  assert.deepEqual(left, [], 'the browser console reported errors');
}

/** signIn goes through the console's Sign in button and the issuer's sign-in page. */
export async function signIn(page, tenant, email) {
  await page.goto(consoleURL);
  await page.getByRole('button', { name: /sign in|logg inn/i }).click();
  await page.getByLabel('Tenant').fill(tenant);
  await page.getByLabel('E-mail').fill(email);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.origin + '/' === consoleURL && !u.search.includes('code='));
  await page.getByTestId('user-email').filter({ hasText: email }).waitFor();
}

const axeSource = readFileSync(join(here, '..', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/** axe runs axe-core in the page (evaluated through the DevTools protocol, not a script tag, so the CSP stays on) and fails on serious or critical violations. */
export async function axe(page, what) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `axe-core: serious or critical violations on ${what}`);
  return result;
}

/** shot saves a screenshot into web/test-output/ (and docs/console/ for the README with BULKOPS_SCREENSHOTS=docs). */
export async function shot(page, name, { doc = false, fullPage = false } = {}) {
  // A full-page capture draws the sticky top bar where the viewport was: it is put back at the top for the capture.
  if (fullPage) await page.evaluate(() => document.querySelector('.topbar')?.style.setProperty('position', 'static'));
  const buf = await page.screenshot({ path: join(outDir, `${name}.png`), fullPage });
  if (doc && toDocs) await page.screenshot({ path: join(docsDir, `${name}.png`), fullPage });
  if (fullPage) await page.evaluate(() => document.querySelector('.topbar')?.style.removeProperty('position'));
  return buf;
}

/** dropFile drops a file with content onto the element, as a user dragging it from the desktop. */
export async function dropFile(page, selector, name, content, type = 'text/csv') {
  const dt = await page.evaluateHandle(
    ({ name, content, type }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(content)], name, { type }));
      return dt;
    },
    { name, content: [...content], type },
  );
  await page.dispatchEvent(selector, 'dragenter', { dataTransfer: dt });
  await page.dispatchEvent(selector, 'dragover', { dataTransfer: dt });
  await page.dispatchEvent(selector, 'drop', { dataTransfer: dt });
}

/** download clicks what starts a download and returns its file name and bytes. */
export async function download(page, click) {
  const [d] = await Promise.all([page.waitForEvent('download'), click()]);
  const path = await d.path();
  return { name: d.suggestedFilename(), body: readFileSync(path) };
}

/**
 * Makes every later invocation of a template function start `delay` late
 * (a Go duration such as '1500ms'; '0' removes it), through the local
 * Lambda server's latency injection (POST /_local/lambda/latency), so a
 * test can watch a job while it runs however fast the machine is.
 */
export async function functionLatency(logicalId, delay) {
  const base = process.env.AWS_ENDPOINT_URL_LAMBDA || `http://127.0.0.1:${process.env.BULKOPS_LAMBDA_PORT || '3001'}`;
  const resp = await fetch(`${base}/_local/lambda/latency?function=${encodeURIComponent(logicalId)}&delay=${encodeURIComponent(delay)}`, { method: 'POST' });
  if (resp.status !== 204) throw new Error(`latency of ${logicalId}: ${resp.status} ${await resp.text()}`);
}
