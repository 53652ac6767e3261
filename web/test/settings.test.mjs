// Browser test of the settings pages in headless Chromium against the
// running local stack: a tenant's effective limits; delivery targets
// refused (403) until an operator allows SFTP on the operator page (an
// operator's token minted by `bulkops token --operator`); an SFTP target
// created against the stack's SFTP server (host key pinned from
// .tools/run/sftp-host-key.pub) with the browser's and the API's field
// errors next to their fields, tested (success, and a denied folder's
// failure), used by an export whose file lands on the server under its
// stable name, and by a schedule; deleted with a confirmation; a
// tenant-bucket target (MinIO plays S3 and STS) created with the API's
// field errors at their fields and tested; the notification contact saved
// and reloaded with its secret never shown, then set by the operator on
// the operator page and seen on the tenant's page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { axe, consoleURL, dropFile, expectNoProblems, launch, newPage, root, shot, signIn } from './helpers.mjs';

const run = Date.now().toString(36);
const tenant = `web-set-${run}`;
const admin = `admin@${tenant}.example`;
const sftpPort = process.env.BULKOPS_SFTP_PORT || '2222';
const runDir = join(root, '.tools', 'run');
const PASSWORD = 'demo-sftp-password';
// The local stack's data bucket (devserver -prefix bulkops-local-): the tenant-bucket target writes its probe under deliveries/.
const BUCKET = 'bulkops-local-databucket';
let browser;
let secretStore = true; // test 7 finds out whether the stack's API keeps webhook secrets
let page;
let op;
const waitingFor404 = [/404 \(Not Found\)/];

before(async () => {
  browser = await launch();
  page = await newPage(browser);
});
after(async () => {
  await browser?.close();
});

/** operatorPage opens the console with an operator's token, as an operator's sign-in would leave it. */
async function operatorPage() {
  const token = execFileSync(join(root, 'bin', 'bulkops'), ['token', '--operator', '--ttl', '1h'], { cwd: root, encoding: 'utf8' }).trim();
  const p = await newPage(browser);
  await p.goto(consoleURL);
  await p.evaluate((tok) => {
    sessionStorage.setItem('bulkops.token', JSON.stringify({ accessToken: tok, expiresAt: Date.now() + 3600_000, tenant: '', email: 'operator@local.example', operator: true }));
  }, token);
  await p.goto(consoleURL + '#/');
  await p.waitForURL(/#\/operator$/);
  return p;
}

test('1. settings show the tenant’s effective limits', async () => {
  await signIn(page, tenant, admin);
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  assert.equal(await page.locator('[data-limit=rows] dd').textContent(), '5,000');
  assert.equal(await page.locator('[data-limit=bytes] dd').textContent(), '5 MB');
  assert.match(await page.getByTestId('allowed-kinds').textContent(), /Download link — allowed.*SFTP server — not allowed/);
  // A tenant administrator's token has no operator tab.
  assert.equal(await page.getByRole('link', { name: /Operator/ }).count(), 0);
  await axe(page, 'the settings page');
  await shot(page, 'settings', { doc: true });
  expectNoProblems(page);
});

test('2. an SFTP target is refused until the operator allows the kind', async () => {
  await page.getByRole('link', { name: 'Delivery targets' }).click();
  await page.getByRole('heading', { level: 1, name: 'Delivery targets' }).waitFor();
  await page.getByText('Your tenant may use download links only').waitFor();
  await page.getByText('No delivery targets yet.').waitFor();
  await page.getByText('The operator has not allowed SFTP server targets for your tenant.').waitFor();
  await page.getByLabel('Name', { exact: true }).fill('Nightly SFTP');
  await page.getByLabel('Host', { exact: true }).fill('127.0.0.1');
  await page.getByLabel('Port').fill(sftpPort);
  await page.getByLabel('User name').fill('demo');
  await page.getByLabel('Host key', { exact: true }).fill(readFileSync(join(runDir, 'sftp-host-key.pub'), 'utf8').trim());
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Add target' }).click();
  const refused = page.locator('form [role=alert]');
  await refused.waitFor();
  assert.match(await refused.textContent(), /Not allowed\..*operator has not allowed SFTP server targets.*may not create sftp delivery targets/);
  await axe(page, 'the targets page with a refusal');
  expectNoProblems(page, [/status of 403/]);
});

test('3. the operator allows SFTP for the tenant (a limit over the maximum is refused at its field)', async () => {
  op = await operatorPage();
  await op.getByRole('heading', { level: 1, name: 'Tenant settings' }).waitFor();
  assert.equal(await op.getByRole('link', { name: 'Dashboard' }).count(), 0, 'an operator without a tenant sees the operator page only');
  await op.getByLabel('Tenant ID').fill('Not A Tenant');
  await op.getByRole('button', { name: 'Open' }).click();
  await op.getByText('A tenant ID is lower-case letters').waitFor();
  await op.getByLabel('Tenant ID').fill(tenant);
  await op.getByRole('button', { name: 'Open' }).click();
  const form = op.getByTestId('operator-settings');
  await form.getByText('Never set: the defaults apply.').waitFor();
  await op.getByLabel('Rows per file').fill('6000');
  await op.getByRole('checkbox', { name: 'SFTP server' }).check();
  await op.getByRole('checkbox', { name: 'The tenant’s S3 bucket' }).check();
  assert.equal(await op.getByText('Your S3 bucket').count(), 0, 'the operator page speaks of the tenant’s bucket');
  await op.getByRole('button', { name: 'Save settings' }).click();
  const rowsErr = form.locator('.field', { has: op.getByLabel('Rows per file') }).locator('[data-field-error]');
  await rowsErr.waitFor();
  assert.match(await rowsErr.textContent(), /maxRows 6000 is over the maximum of 5000 rows per file/);
  assert.equal(await op.getByLabel('Rows per file').getAttribute('aria-invalid'), 'true');
  await axe(op, 'the operator page with a refused limit');
  await op.getByLabel('Rows per file').fill('4000');
  await op.getByRole('button', { name: 'Save settings' }).click();
  await op.getByText(`Saved the settings of ${tenant} (version 1).`).waitFor();
  assert.match(await op.getByTestId('effective').textContent(), /4,000 rows.*Download link, SFTP server, The tenant’s S3 bucket/);
  const audit = op.getByTestId('settings-audit').locator('tbody tr');
  await audit.first().waitFor();
  assert.equal(await audit.count(), 1);
  assert.match(await audit.first().textContent(), /^1.*operator@local\.example.*maxRows: 0 → 4000; deliveryTargets: — → sftp, s3bucket$/);
  await shot(op, 'operator-limits');
  expectNoProblems(op, [/status of 400/]);
});

let targetId = '';
test('4. creates an SFTP target (field errors next to the fields), tests it, and a denied folder fails its test', async () => {
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Delivery targets' }).waitFor();
  assert.equal(await page.getByText('Your tenant may use download links only').count(), 0);
  // The browser's own checks, each next to its field.
  await page.getByRole('button', { name: 'Add target' }).click();
  await page.getByText('Give the target a name.').waitFor();
  for (const m of ['Enter the server’s host.', 'Enter the user name.', 'Paste the server’s host key', 'Enter the password.']) await page.getByText(m).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-invalid')), 'true', 'the first invalid field has the focus');
  // The API's: a host key that is none, shown at the host key.
  await page.getByLabel('Name', { exact: true }).fill('Nightly SFTP');
  await page.getByLabel('Host', { exact: true }).fill('127.0.0.1');
  await page.getByLabel('Port').fill(sftpPort);
  await page.getByLabel('User name').fill('demo');
  await page.getByLabel('Host key', { exact: true }).fill('ssh-nope AAAA');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Add target' }).click();
  const keyErr = page.locator('.field', { has: page.getByLabel('Host key', { exact: true }) }).locator('[data-field-error]');
  await keyErr.filter({ hasText: 'expected ssh-ed25519' }).waitFor();
  assert.match(await keyErr.textContent(), /sftp\.hostKey "ssh-nope AAAA".*expected ssh-ed25519/);
  assert.equal(await page.getByText('Enter the password.').count(), 0, 'the fixed fields lost their errors');
  await page.getByText('Check the marked fields: each says what to fix.').waitFor();
  await shot(page, 'targets-errors');
  await page.getByLabel('Host key', { exact: true }).fill(readFileSync(join(runDir, 'sftp-host-key.pub'), 'utf8').trim());
  await page.getByRole('button', { name: 'Add target' }).click();
  await page.getByText('Nightly SFTP was added.').waitFor();
  // Write-only: the form forgot the password and the page never shows it.
  assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '');
  const card = page.getByTestId('target').filter({ hasText: 'Nightly SFTP' });
  assert.equal(await card.getByTestId('target-where').textContent(), `sftp://demo@127.0.0.1:${sftpPort}/~`);
  await card.getByText('Password (kept in the secret store, never shown)').waitFor();
  await card.getByText(/^SHA256:/).waitFor();
  targetId = await card.getAttribute('data-target-id');
  await card.getByRole('button', { name: 'Test connection to Nightly SFTP' }).click();
  await card.locator('.notice-success').waitFor({ timeout: 30_000 });
  assert.match(await card.getByTestId('target-sentence').textContent(), /reached 127\.0\.0\.1:\d+, authenticated as demo, folder .* writable/);

  // A second target whose folder the server denies: the test names the phase.
  await page.getByLabel('Name', { exact: true }).fill('Denied folder');
  await page.getByLabel('Host', { exact: true }).fill('127.0.0.1');
  await page.getByLabel('Port').fill(sftpPort);
  await page.getByLabel('User name').fill('demo');
  await page.getByLabel('Folder').fill('/denied');
  await page.getByLabel('Host key', { exact: true }).fill(readFileSync(join(runDir, 'sftp-host-key.pub'), 'utf8').trim());
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Add target' }).click();
  await page.getByText('Denied folder was added.').waitFor();
  const denied = page.getByTestId('target').filter({ hasText: 'Denied folder' });
  await denied.getByRole('button', { name: 'Test connection to Denied folder' }).click();
  await denied.locator('.notice-error').waitFor({ timeout: 30_000 });
  assert.match(await denied.getByTestId('target-sentence').textContent(), /folder/);
  assert.ok(!(await page.content()).includes(PASSWORD), 'the password is nowhere in the page');
  await axe(page, 'the targets page');
  expectNoProblems(page, [/status of 400/]);
});

test('4b. a tenant-bucket target: the API’s errors at their fields, created, Test connection’s sentence', async () => {
  await page.getByRole('radio', { name: 'Your S3 bucket' }).check();
  assert.equal(await page.getByLabel('Host', { exact: true }).isVisible(), false, 'the SFTP fields are hidden');
  await page.getByLabel('Name', { exact: true }).fill('Data lake');
  await page.getByLabel('Bucket', { exact: true }).fill('Bad_Bucket');
  await page.getByLabel('Region').fill('us-east-1');
  await page.getByLabel('Role ARN').fill('bulkops-delivery');
  await page.getByRole('button', { name: 'Add target' }).click();
  // The API's errors[] pointers (/bucket/bucket, /bucket/roleArn) put each at its field.
  const at = (label) => page.locator('.field', { has: page.getByLabel(label, { exact: true }) }).locator('[data-field-error]');
  await at('Bucket').filter({ hasText: 'S3 bucket name' }).waitFor();
  assert.match(await at('Bucket').textContent(), /^bucket\.bucket "Bad_Bucket": an S3 bucket name/);
  assert.match(await at('Role ARN').textContent(), /^bucket\.roleArn "bulkops-delivery": an IAM role ARN/);
  assert.equal(await at('Region').isVisible(), false, 'a valid field has no error');
  assert.equal(await page.getByLabel('Bucket', { exact: true }).getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement?.closest('.field')?.querySelector('label')?.textContent), 'Bucket', 'the first wrong field has the focus');
  await axe(page, 'the bucket target form with the API’s errors');
  await shot(page, 'targets-bucket-errors');
  await page.getByLabel('Bucket', { exact: true }).fill(BUCKET);
  await page.getByLabel('Key prefix').fill(`deliveries/web-${run}/`);
  await page.getByLabel('Role ARN').fill('arn:aws:iam::123456789012:role/bulkops-delivery');
  await page.getByRole('button', { name: 'Add target' }).click();
  await page.getByText('Data lake was added.').waitFor();
  const card = page.getByTestId('target').filter({ hasText: 'Data lake' });
  assert.equal(await card.getByTestId('target-where').textContent(), `s3://${BUCKET}/deliveries/web-${run}/`);
  await card.getByText('arn:aws:iam::123456789012:role/bulkops-delivery').waitFor();
  await card.getByRole('button', { name: 'Test connection to Data lake' }).click();
  await card.locator('.notice-success').waitFor({ timeout: 30_000 });
  assert.equal(
    await card.getByTestId('target-sentence').textContent(),
    `reached bucket ${BUCKET} in us-east-1, assumed role arn:aws:iam::123456789012:role/bulkops-delivery, prefix deliveries/web-${run}/ writable`,
  );
  await axe(page, 'the targets page with three kinds of results');
  await shot(page, 'targets', { doc: true, fullPage: true });
  expectNoProblems(page, [/status of 400/]);
});

test('5. an export delivered to the SFTP target, as one CSV under its stable name', async () => {
  await page.getByRole('link', { name: 'New import' }).click();
  await page.getByLabel('Object type').selectOption('skill-definition');
  await dropFile(page, '[data-testid=dropzone]', 'skills.csv', Buffer.from(`Name,Type\nChat ${run},PROFICIENCY\nVoice ${run},PROFICIENCY\n`));
  await page.getByRole('button', { name: 'Upload and start import' }).click();
  await page.locator('.page-head [data-status="Completed"]').waitFor({ timeout: 60_000 });

  const remote = join(runDir, 'sftp', 'demo', `s${run}_SkillDefinition.csv`);
  rmSync(remote, { force: true });
  await page.getByRole('link', { name: 'Export', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Export objects' }).waitFor();
  await page.getByRole('checkbox', { name: 'Skill Definition' }).check();
  await page.getByLabel('File name prefix').fill(`s${run}_`);
  const picker = page.getByLabel('Deliver to');
  assert.equal(await picker.inputValue(), '', 'the download link is the default');
  await picker.selectOption({ label: `Nightly SFTP — sftp://demo@127.0.0.1:${sftpPort}/~` });
  await page.getByText('Export options').click();
  await page.getByRole('radio', { name: 'One CSV (one type, at most 5,000 rows)' }).check();
  await page.getByRole('checkbox', { name: /Same file name every time/ }).check();
  await axe(page, 'the export page with a target');
  await shot(page, 'export-target', { doc: true, fullPage: true });
  await page.getByRole('button', { name: 'Start export' }).click();
  await page.waitForURL(/#\/jobs\/[0-9A-Z]{26}$/);
  await page.locator('.page-head [data-status="Completed"]').waitFor({ timeout: 60_000 });
  const dest = page.getByTestId('delivery-destination');
  await dest.waitFor();
  assert.match(await dest.textContent(), new RegExp(`^sftp://demo@127\\.0\\.0\\.1:${sftpPort}/.*s${run}_SkillDefinition\\.csv$`));
  assert.ok(existsSync(remote), `${remote} was delivered`);
  assert.match(readFileSync(remote, 'utf8'), new RegExp(`Chat ${run}`));
  rmSync(remote, { force: true });
  await shot(page, 'job-delivered', { doc: true });
  expectNoProblems(page, waitingFor404);
});

test('6. a schedule names the target; a test run shows where it went; targets are deleted with a confirmation', async () => {
  await page.getByRole('link', { name: 'Scheduled exports' }).click();
  await page.getByTestId('new-schedule').click();
  await page.getByLabel('Title').fill('Skills to SFTP');
  await page.getByRole('checkbox', { name: 'Skill Definition' }).check();
  await page.getByLabel('File name prefix').fill(`t${run}_`);
  await page.getByLabel('Deliver to').selectOption(targetId);
  await page.getByRole('button', { name: 'Create schedule' }).click();
  await page.waitForURL(/#\/schedules\/[0-9A-Z]{26}$/);
  await page.getByRole('heading', { level: 1, name: 'Skills to SFTP' }).waitFor();
  await page.locator('.details').getByText('Nightly SFTP').waitFor();
  await page.getByRole('link', { name: 'Edit' }).click();
  await page.getByRole('heading', { level: 1, name: 'Edit scheduled export' }).waitFor();
  assert.equal(await page.getByLabel('Deliver to').inputValue(), targetId, 'the form comes back with its target');
  await page.getByRole('link', { name: 'Cancel' }).click();
  // A run (not a test export, which keeps its file to itself) is delivered: a once schedule runs at the dispatcher's next tick.
  await page.getByTestId('new-schedule').click();
  await page.getByLabel('Title').fill('Skills once to SFTP');
  await page.getByRole('checkbox', { name: 'Skill Definition' }).check();
  await page.getByLabel('File name prefix').fill(`o${run}_`);
  await page.getByLabel('Frequency').selectOption('once'); // no date: runs now
  await page.getByLabel('Deliver to').selectOption(targetId);
  await page.getByRole('button', { name: 'Create schedule' }).click();
  await page.waitForURL(/#\/schedules\/[0-9A-Z]{26}$/);
  await page.getByRole('heading', { level: 1, name: 'Skills once to SFTP' }).waitFor();
  const cell = page.getByTestId('run-delivery').first();
  await cell.getByTestId('delivery-destination').waitFor({ timeout: 90_000 });
  assert.match(await cell.textContent(), new RegExp(`Nightly SFTP.*sftp://demo@127\\.0\\.0\\.1:${sftpPort}/.*o${run}_SkillDefinition_.*\\.zip`));
  for (const f of readdirSync(join(runDir, 'sftp', 'demo'))) if (f.startsWith(`o${run}_`)) rmSync(join(runDir, 'sftp', 'demo', f));
  await axe(page, 'the run history with a delivery');
  await shot(page, 'schedule-history', { doc: true });

  // A target a schedule names cannot be deleted (409, the API's sentence); once the schedule is gone it can.
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByRole('link', { name: 'Delivery targets' }).click();
  const card = page.getByTestId('target').filter({ hasText: 'Nightly SFTP' });
  await card.getByRole('button', { name: 'Delete Nightly SFTP' }).click();
  await card.getByText('Delete Nightly SFTP and its stored credential?').waitFor();
  await card.getByRole('button', { name: 'Delete', exact: true }).click();
  const refused = page.locator('[role=alert]').first();
  await refused.waitFor();
  assert.match(await refused.textContent(), /schedule/i);
  const denied = page.getByTestId('target').filter({ hasText: 'Denied folder' });
  await denied.getByRole('button', { name: 'Delete Denied folder' }).click();
  await denied.getByRole('button', { name: 'Cancel' }).click();
  await denied.getByRole('button', { name: 'Delete Denied folder' }).click();
  await denied.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.getByText('Denied folder was deleted.').waitFor();
  await denied.waitFor({ state: 'detached' }); // the message can come before the list is drawn again
  assert.equal(await page.getByTestId('target').count(), 2, 'Nightly SFTP and Data lake are left');
  expectNoProblems(page, [/status of 409/]);
});

test('7. the notification contact: errors at their fields, saved, reloaded with the secret never shown', async (t) => {
  await page.getByRole('link', { name: 'Notifications' }).click();
  await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
  await page.getByText('No signing secret yet: a webhook needs one.').waitFor();
  const secret = `whsec-${run}-0123456789abcdefghijklmnopqrstuvwxyz`;
  await page.getByLabel('E-mail address').fill('not-an-address');
  await page.getByLabel('Webhook URL').fill('http://hooks.example.com/bulkops');
  await page.getByLabel('Signing secret').fill('short');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('The webhook must be an https URL.').waitFor();
  await page.getByText('Use 32 to 256 characters without spaces.').waitFor();
  await page.getByLabel('Webhook URL').fill('https://hooks.example.com/bulkops');
  await page.getByLabel('Signing secret').fill(secret);
  await page.getByRole('button', { name: 'Save' }).click();
  // The API's refusal, at the e-mail field.
  const emailErr = page.locator('.field', { has: page.getByLabel('E-mail address') }).locator('[data-field-error]');
  await emailErr.filter({ hasText: 'is not an e-mail address' }).waitFor();
  assert.match(await emailErr.textContent(), /"not-an-address" is not an e-mail address/);
  await axe(page, 'the notifications page with errors');
  await shot(page, 'notifications-errors');
  await page.getByLabel('E-mail address').fill(`ops@${tenant}.example`);
  await page.getByRole('button', { name: 'Save' }).click();
  const webhookErr = page.locator('.field', { has: page.getByLabel('Webhook URL') }).locator('[data-field-error]');
  const saved = page.getByText('Saved. Failures are told to this contact.');
  await Promise.race([saved.waitFor(), webhookErr.waitFor()]);
  if (await webhookErr.isVisible()) {
    // A stack without a webhook secret store (the API says so at the webhook): the e-mail alone is kept.
    assert.match(await webhookErr.textContent(), /no secret store/);
    t.diagnostic('this stack keeps no webhook secrets: the e-mail-only path was tested');
    secretStore = false;
    await page.getByLabel('Webhook URL').fill('');
    await page.getByRole('button', { name: 'Save' }).click();
    await saved.waitFor();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
    assert.equal(await page.getByLabel('E-mail address').inputValue(), `ops@${tenant}.example`);
    await shot(page, 'notifications', { doc: true });
    expectNoProblems(page, [/status of 400/]);
    return;
  }
  await page.getByTestId('secret-state').getByText('A signing secret is set (it is never shown).').waitFor();
  // Reloaded: the contact is back; the secret is not, anywhere in the page.
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
  assert.equal(await page.getByLabel('E-mail address').inputValue(), `ops@${tenant}.example`);
  assert.equal(await page.getByLabel('Webhook URL').inputValue(), 'https://hooks.example.com/bulkops');
  await page.getByText('A signing secret is set (it is never shown).').waitFor();
  assert.equal(await page.getByTestId('webhook-secret').isVisible(), false);
  assert.equal(await page.getByTestId('webhook-secret').inputValue(), '');
  assert.ok(!(await page.content()).includes(secret), 'the secret is nowhere in the page');
  await axe(page, 'the notifications page');
  await shot(page, 'notifications', { doc: true });
  // The URL changes without resending the secret; then the secret is replaced.
  await page.getByLabel('Webhook URL').fill('https://hooks.example.com/bulkops2');
  await page.getByRole('button', { name: 'Save' }).click();
  await saved.waitFor();
  await page.getByTestId('replace-secret').click();
  await page.getByLabel('Signing secret').fill(`${secret}-2`);
  await page.getByRole('button', { name: 'Save' }).click();
  await saved.waitFor();
  await page.getByText('A signing secret is set (it is never shown).').waitFor();
  expectNoProblems(page, [/status of 400/]);
});

test('8. the operator sets the tenant’s notification contact (an API error at its field, the secret write-only); the tenant sees it', async () => {
  await op.getByLabel('Tenant ID').fill(tenant);
  await op.getByRole('button', { name: 'Open' }).click();
  const form = op.getByTestId('operator-settings');
  await form.getByText(/^Version 1, last changed by operator@local\.example/).waitFor();
  const box = op.getByTestId('operator-contact');
  // The contact the tenant's administrator set in test 7.
  assert.equal(await box.getByLabel('E-mail address').inputValue(), `ops@${tenant}.example`);
  await box.getByLabel('E-mail address').fill('noc at example');
  await op.getByRole('button', { name: 'Save settings' }).click();
  // The API's errors[] pointer /notification/email puts it at the field.
  const emailErr = box.locator('.field', { has: op.getByLabel('E-mail address') }).locator('[data-field-error]');
  await emailErr.filter({ hasText: 'is not an e-mail address' }).waitFor();
  assert.equal(await box.getByLabel('E-mail address').getAttribute('aria-invalid'), 'true');
  await axe(op, 'the operator page with a refused contact');
  await box.getByLabel('E-mail address').fill(`noc@${tenant}.example`);
  const opSecret = `opsec-${run}-abcdefghijklmnopqrstuvwxyz0123456789`;
  if (secretStore) {
    await box.getByTestId('secret-state').getByText('A signing secret is set (it is never shown).').waitFor();
    await box.getByLabel('Webhook URL').fill('https://hooks.example.com/noc');
    await box.getByTestId('replace-secret').click();
    await box.getByLabel('New signing secret').fill('too short');
    await op.getByRole('button', { name: 'Save settings' }).click();
    await box.getByText('Use 32 to 256 characters without spaces.').waitFor();
    await box.getByLabel('New signing secret').fill(opSecret);
  }
  await op.getByRole('button', { name: 'Save settings' }).click();
  await op.getByText(`Saved the settings of ${tenant} (version 2).`).waitFor();
  const audit = op.getByTestId('settings-audit').locator('tbody tr');
  await audit.nth(1).waitFor();
  const want = secretStore
    ? /^2.*operator@local\.example.*notification\.email: ops@\S+ → noc@\S+; notification\.webhook: https:\/\/hooks\.example\.com\/bulkops2 → https:\/\/hooks\.example\.com\/noc; webhook secret replaced$/
    : /^2.*operator@local\.example.*notification\.email: ops@\S+ → noc@\S+$/;
  assert.match(await audit.first().textContent(), want);
  const saved = op.getByTestId('operator-contact');
  assert.equal(await saved.getByLabel('E-mail address').inputValue(), `noc@${tenant}.example`);
  if (secretStore) {
    await saved.getByTestId('secret-state').getByText('A signing secret is set (it is never shown).').waitFor();
    assert.equal(await saved.getByTestId('webhook-secret').inputValue(), '');
    assert.ok(!(await op.content()).includes(opSecret), 'the secret is nowhere in the operator page');
  }
  await axe(op, 'the operator page with the contact');
  await shot(op, 'operator', { doc: true, fullPage: true });
  expectNoProblems(op, [/status of 400/]);

  // The tenant's administrator sees the operator's contact on the Notifications page.
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByRole('link', { name: 'Notifications' }).click();
  await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
  assert.equal(await page.getByLabel('E-mail address').inputValue(), `noc@${tenant}.example`);
  if (secretStore) {
    assert.equal(await page.getByLabel('Webhook URL').inputValue(), 'https://hooks.example.com/noc');
    await page.getByText('A signing secret is set (it is never shown).').waitFor();
    assert.ok(!(await page.content()).includes(opSecret), 'the secret is nowhere in the tenant’s page');
  }
  expectNoProblems(page, [/status of 400/]);
});
