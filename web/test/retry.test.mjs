// Browser test of "Retry rejected rows" on a finished import's page, in
// headless Chromium against the running local stack: skill profiles are
// imported before the Skill Definitions they name, so those rows are
// rejected; the skill is imported; the button starts a new job over the
// rejected rows only, which ends Completed, shows "Retry of" with a link
// back, and the old job shows "Retried by" and no button any more.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { axe, consoleURL, dropFile, expectNoProblems, launch, newPage, shot, signIn } from './helpers.mjs';

const run = Date.now().toString(36);
const tenant = `web-retry-${run}`;
let browser;
let page;
const jobOf = (p) => /#\/jobs\/([0-9A-Z]{26})/.exec(p.url())[1];
const waitingFor404 = [/404 \(Not Found\)/];

before(async () => {
  browser = await launch();
  page = await newPage(browser);
});
after(async () => {
  await browser?.close();
});

async function importFile(type, name, body) {
  await page.getByRole('link', { name: 'New import' }).click();
  await page.getByLabel('Object type').selectOption(type);
  await dropFile(page, '[data-testid=dropzone]', name, Buffer.from(body));
  await page.getByRole('button', { name: 'Upload and start import' }).click();
  await page.waitForURL(/#\/jobs\/[0-9A-Z]{26}\?uploaded=1$/);
  return jobOf(page);
}

test('retry rejected rows once the missing reference is imported', async () => {
  await page.goto(consoleURL);
  await signIn(page, tenant, `admin@${tenant}.example`);
  await page.getByRole('heading', { level: 1, name: 'Bulk operations' }).waitFor();

  await importFile('skill-definition', 'chat.csv', 'Name,Type\nChat,PROFICIENCY\n');
  await page.locator('.page-head [data-status="Completed"]').waitFor({ timeout: 60_000 });
  const first = await importFile('skill-profile', 'profiles.csv', 'Name,Description,Skills\nSpanish desk,,Spanish=8\nGeneral,,Chat=5\nFrench desk,,French=3\n');
  await page.locator('.page-head [data-status="Completed with errors"]').waitFor({ timeout: 60_000 });
  const retry = page.getByTestId('retry-job');
  await retry.waitFor();
  await axe(page, 'a finished job with its Retry button');
  await shot(page, 'job-retry', { doc: true, fullPage: true });

  await importFile('skill-definition', 'skills.csv', 'Name,Type\nSpanish,PROFICIENCY\nFrench,PROFICIENCY\n');
  await page.locator('.page-head [data-status="Completed"]').waitFor({ timeout: 60_000 });

  await page.goto(`${consoleURL}#/jobs/${first}`);
  await page.getByTestId('retry-job').click();
  await page.waitForURL(/#\/jobs\/[0-9A-Z]{26}\?uploaded=1$/);
  const second = jobOf(page);
  assert.notEqual(second, first);
  await page.locator('.page-head [data-status="Completed"]').waitFor({ timeout: 60_000 });
  assert.equal(await page.locator('[data-count=created] dd').textContent(), '2');
  assert.equal(await page.getByTestId('retry-of').textContent(), first);
  assert.equal(await page.getByTestId('retry-job').count(), 0);

  await page.getByTestId('retry-of').click();
  await page.getByTestId('retried-by').waitFor();
  assert.equal(await page.getByTestId('retried-by').textContent(), second);
  assert.equal(await page.getByTestId('retry-job').count(), 0);
  expectNoProblems(page, waitingFor404);
});
