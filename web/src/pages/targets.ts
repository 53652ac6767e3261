// Delivery targets: where an export's file goes besides its download link
// (an SFTP server with its host key pinned, or the tenant's own S3 bucket).
// The list, a form to add one (the password or private key is sent once
// and never shown again), "Test connection" with the API's sentence, and
// delete with a confirmation. Kinds the operator has not allowed are
// marked, and a refusal (403) says so.

import { h, id, replace } from '../dom';
import { t } from '../i18n';
import { ApiError, api, type EffectiveSettings, type Target, type TargetKind, type TargetRequest, type TargetTest } from '../api';
import { when } from '../format';
import { session } from '../auth';
import { errorNotice, formField, loading, notice, pageHead, settingsTabs, showProblem, type FormField } from '../ui';
import type { Page } from '../main';

/** destination is where a target writes, in words a user reads (no secret). */
export function targetWhere(tg: Target): string {
  if (tg.kind === 'sftp' && tg.sftp) {
    const s = tg.sftp;
    return `sftp://${s.user}@${s.host}:${s.port || 22}/${(s.folder || '~').replace(/^\/+/, '')}`;
  }
  if (tg.kind === 's3bucket' && tg.bucket) return `s3://${tg.bucket.bucket}/${tg.bucket.prefix || ''}`;
  return t('targets.kind.s3link');
}

export function kindLabel(k: TargetKind): string {
  return t(`targets.kind.${k}` as 'targets.kind.sftp');
}

export const targetsPage: Page = (main) => {
  let stopped = false;
  const s = session();
  const msg = h('div', { 'aria-live': 'polite' });
  const allowedSlot = h('div');
  const list = h('div');
  const formSlot = h('div');
  replace(
    main,
    settingsTabs('targets', Boolean(s?.operator), true),
    pageHead(t('targets.title'), t('targets.sub')),
    msg,
    allowedSlot,
    h('section', { class: 'card', 'aria-labelledby': 'targets-h' }, h('h2', { id: 'targets-h' }, t('targets.listTitle')), list),
    formSlot,
  );
  replace(list, loading());
  let settings: EffectiveSettings | undefined;

  function allowed(k: TargetKind): boolean {
    return !settings || settings.deliveryTargets.includes(k);
  }

  // The latest test of each target stays shown when the list is drawn again.
  const tested = new Map<string, TargetTest>();
  const testNotice = (r: TargetTest) => notice(r.ok ? 'success' : 'error', h('strong', null, r.ok ? t('targets.testOk') : t('targets.testFailed')), ' ', h('span', { 'data-testid': 'target-sentence' }, r.sentence));

  function targetCard(tg: Target): HTMLElement {
    const last = tested.get(tg.id);
    const result = h('div', { 'aria-live': 'polite', 'data-testid': 'target-test-result' }, last ? testNotice(last) : null);
    const actions = h('div', { class: 'row-actions' });
    const testBtn = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'test-target', 'aria-label': t('targets.testAria', { name: tg.name }) }, t('targets.test'));
    testBtn.addEventListener('click', async () => {
      testBtn.disabled = true;
      replace(result, h('p', { class: 'hint', role: 'status' }, t('targets.testing')));
      try {
        const r = await api.testTarget(tg.id);
        tested.set(tg.id, r);
        replace(result, testNotice(r));
      } catch (e) {
        replace(result, errorNotice(e));
      } finally {
        testBtn.disabled = false;
      }
    });
    const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': t('targets.deleteAria', { name: tg.name }) }, t('targets.delete'));
    del.addEventListener('click', () => {
      const yes = h('button', { type: 'button', class: 'btn btn-small btn-danger' }, t('targets.deleteYes'));
      const no = h('button', { type: 'button', class: 'btn btn-small' }, t('common.cancel'));
      yes.addEventListener('click', async () => {
        yes.disabled = true;
        try {
          await api.deleteTarget(tg.id);
          replace(msg, notice('success', t('targets.deleted', { name: tg.name })));
        } catch (e) {
          replace(msg, errorNotice(e));
        }
        await load();
      });
      no.addEventListener('click', () => {
        replace(actions, testBtn, del);
        del.focus();
      });
      replace(actions, h('span', { class: 'confirm', role: 'group', 'aria-label': t('targets.deleteConfirm', { name: tg.name }) }, h('span', null, t('targets.deleteConfirm', { name: tg.name })), yes, no));
      no.focus();
    });
    replace(actions, testBtn, del);
    const rows: [string, HTMLElement | string][] = [[t('targets.where'), h('span', { class: 'mono', 'data-testid': 'target-where' }, targetWhere(tg))]];
    if (tg.sftp) {
      rows.push([t('targets.hostKey'), h('span', { class: 'mono' }, tg.sftp.hostKeyFingerprint || tg.sftp.hostKey.split(' ')[0])]);
      rows.push([t('targets.auth'), t(tg.sftp.auth === 'password' ? 'targets.authPasswordKept' : 'targets.authKeyKept')]);
    }
    if (tg.bucket) {
      rows.push([t('targets.region'), tg.bucket.region]);
      rows.push([t('targets.roleArn'), h('span', { class: 'mono' }, tg.bucket.roleArn)]);
    }
    rows.push([t('targets.createdAt'), h('span', null, when(tg.createdAt), tg.createdBy ? ` · ${tg.createdBy}` : '')]);
    return h(
      'li',
      { class: 'target', 'data-testid': 'target', 'data-target-id': tg.id },
      h('div', { class: 'target-head' }, h('h3', null, tg.name), h('span', { class: `tag tag-${tg.kind}` }, kindLabel(tg.kind)), actions),
      h('dl', { class: 'details' }, rows.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v)))),
      result,
    );
  }

  async function load(): Promise<void> {
    try {
      const targets = await api.targets();
      if (stopped) return;
      replace(list, targets.length ? h('ul', { class: 'target-list' }, targets.map(targetCard)) : h('p', { class: 'empty' }, t('targets.empty')));
    } catch (e) {
      if (!stopped) replace(list, errorNotice(e));
    }
  }

  function createForm(): HTMLElement {
    const fields: Record<string, FormField> = {};
    const add = (ptr: string, f: FormField) => ((fields[ptr] = f), f.el);
    const status = h('div', { 'aria-live': 'polite' });
    const name = h('input', { type: 'text', maxlength: '100', autocomplete: 'off', required: true });
    const kindName = id('kind');
    const kindInputs = (['sftp', 's3bucket'] as TargetKind[]).map((k) => {
      const r = h('input', { type: 'radio', name: kindName, value: k, checked: k === (allowed('sftp') || !allowed('s3bucket') ? 'sftp' : 's3bucket'), id: id('kind') });
      return { k, r, el: h('label', { class: 'check-item', for: r.id }, r, h('span', null, kindLabel(k)), allowed(k) ? null : h('span', { class: 'tag tag-off' }, t('targets.notAllowedTag'))) };
    });
    const kind = () => (kindInputs.find((i) => i.r.checked)?.k ?? 'sftp') as TargetKind;

    // SFTP
    const host = h('input', { type: 'text', maxlength: '253', autocomplete: 'off', spellcheck: 'false' });
    const port = h('input', { type: 'number', min: '1', max: '65535', step: '1', value: '22' });
    const user = h('input', { type: 'text', maxlength: '64', autocomplete: 'off', spellcheck: 'false' });
    const folder = h('input', { type: 'text', maxlength: '1024', autocomplete: 'off', spellcheck: 'false', placeholder: t('targets.folderPh') });
    const hostKey = h('textarea', { rows: '2', spellcheck: 'false', class: 'mono', placeholder: 'ssh-ed25519 AAAA…' });
    const fingerprint = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'SHA256:…' });
    const authName = id('auth');
    const authPw = h('input', { type: 'radio', name: authName, value: 'password', checked: true, id: id('auth') });
    const authKey = h('input', { type: 'radio', name: authName, value: 'private-key', id: id('auth') });
    const password = h('input', { type: 'password', autocomplete: 'new-password', maxlength: '1024' });
    const privateKey = h('textarea', { rows: '4', spellcheck: 'false', class: 'mono', autocomplete: 'off', placeholder: '-----BEGIN OPENSSH PRIVATE KEY-----' });
    const passphrase = h('input', { type: 'password', autocomplete: 'new-password' });
    const pwField = formField(t('targets.password'), password, t('targets.writeOnly'));
    const keyField = formField(t('targets.privateKey'), privateKey, t('targets.writeOnly'));
    const ppField = formField(t('targets.passphrase'), passphrase, t('targets.passphraseHint'));
    const syncAuth = () => {
      pwField.el.hidden = !authPw.checked;
      keyField.el.hidden = ppField.el.hidden = authPw.checked;
    };
    authPw.addEventListener('change', syncAuth);
    authKey.addEventListener('change', syncAuth);
    syncAuth();
    fields['/sftp/password'] = pwField;
    fields['/sftp/privateKey'] = keyField;
    fields['/sftp/passphrase'] = ppField;
    const sftpBox = h(
      'fieldset',
      { 'data-kind': 'sftp' },
      h('legend', null, t('targets.sftpLegend')),
      h('div', { class: 'inline-fields' }, add('/sftp/host', formField(t('targets.host'), host, t('targets.hostHint'))), add('/sftp/port', formField(t('targets.port'), port))),
      h('div', { class: 'inline-fields' }, add('/sftp/user', formField(t('targets.user'), user)), add('/sftp/folder', formField(t('targets.folder'), folder, t('targets.folderHint')))),
      add('/sftp/hostKey', formField(t('targets.hostKey'), hostKey, t('targets.hostKeyHint'), { class: 'field field-wide' })),
      add('/sftp/hostKeyFingerprint', formField(t('targets.fingerprint'), fingerprint, t('targets.fingerprintHint'))),
      h(
        'fieldset',
        { class: 'radios' },
        h('legend', null, t('targets.auth')),
        h('div', { class: 'radio-row' }, h('label', { class: 'check-item', for: authPw.id }, authPw, h('span', null, t('targets.authPassword'))), h('label', { class: 'check-item', for: authKey.id }, authKey, h('span', null, t('targets.authKey')))),
      ),
      pwField.el,
      keyField.el,
      ppField.el,
    );
    // The credential's kind: its error shows at the credential field in view.
    fields['/sftp/auth'] = {
      el: sftpBox,
      get control() {
        return authPw.checked ? password : privateKey;
      },
      setError: (m?: string) => (authPw.checked ? pwField : keyField).setError(m),
    };

    // Tenant S3 bucket
    const bucket = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
    const prefix = h('input', { type: 'text', maxlength: '512', autocomplete: 'off', spellcheck: 'false', placeholder: 'exports/' });
    const region = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'eu-west-1' });
    const roleArn = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'arn:aws:iam::123456789012:role/bulkops-delivery' });
    const bucketBox = h(
      'fieldset',
      { 'data-kind': 's3bucket' },
      h('legend', null, t('targets.bucketLegend')),
      h('div', { class: 'inline-fields' }, add('/bucket/bucket', formField(t('targets.bucket'), bucket)), add('/bucket/prefix', formField(t('targets.prefix'), prefix, t('targets.prefixHint')))),
      h('div', { class: 'inline-fields' }, add('/bucket/region', formField(t('targets.region'), region))),
      // An ARN is long: its own row, as wide as the host key.
      add('/bucket/roleArn', formField(t('targets.roleArn'), roleArn, t('targets.roleArnHint'), { class: 'field field-wide' })),
      h('p', { class: 'hint' }, t('targets.externalId', { tenant: s?.tenant || '' })),
    );
    const notAllowed = h('div');
    const syncKind = () => {
      const k = kind();
      sftpBox.hidden = k !== 'sftp';
      bucketBox.hidden = k !== 's3bucket';
      replace(notAllowed, allowed(k) ? null : notice('warning', t('targets.notAllowed', { kind: kindLabel(k) })));
    };
    kindInputs.forEach((i) => i.r.addEventListener('change', syncKind));
    syncKind();

    const save = h('button', { type: 'submit', class: 'btn btn-primary' }, t('targets.create'));
    const f = h(
      'form',
      { class: 'card', novalidate: true, 'aria-labelledby': 'new-target-h' },
      h('h2', { id: 'new-target-h' }, t('targets.newTitle')),
      add('/name', formField(t('targets.name'), name, t('targets.nameHint'))),
      h('fieldset', { class: 'radios' }, h('legend', null, t('targets.kind')), h('div', { class: 'radio-row' }, kindInputs.map((i) => i.el))),
      notAllowed,
      sftpBox,
      bucketBox,
      h('div', { class: 'start-row' }, save),
      status,
    );
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const k = kind();
      const b: TargetRequest = { name: name.value.trim(), kind: k };
      if (k === 'sftp') {
        const n = port.value.trim() === '' ? 22 : Number(port.value);
        b.sftp = { host: host.value.trim(), port: Number.isInteger(n) ? n : 0, user: user.value.trim(), folder: folder.value.trim(), hostKey: hostKey.value.trim(), auth: authPw.checked ? 'password' : 'private-key' };
        if (fingerprint.value.trim()) b.sftp.hostKeyFingerprint = fingerprint.value.trim();
        if (authPw.checked) b.sftp.password = password.value;
        else {
          b.sftp.privateKey = privateKey.value;
          if (passphrase.value) b.sftp.passphrase = passphrase.value;
        }
      } else b.bucket = { bucket: bucket.value.trim(), prefix: prefix.value.trim(), region: region.value.trim(), roleArn: roleArn.value.trim() };
      // What the browser can tell before asking: the required fields.
      const missing: [string, string][] = [];
      if (!b.name) missing.push(['/name', t('targets.needName')]);
      if (b.sftp) {
        if (!b.sftp.host) missing.push(['/sftp/host', t('targets.needHost')]);
        if (!Number.isInteger(Number(port.value || '22')) || Number(port.value || '22') < 1 || Number(port.value || '22') > 65535) missing.push(['/sftp/port', t('targets.portBad')]);
        if (!b.sftp.user) missing.push(['/sftp/user', t('targets.needUser')]);
        if (!b.sftp.hostKey) missing.push(['/sftp/hostKey', t('targets.needHostKey')]);
        if (authPw.checked && !password.value) missing.push(['/sftp/password', t('targets.needPassword')]);
        if (!authPw.checked && !privateKey.value.trim()) missing.push(['/sftp/privateKey', t('targets.needKey')]);
      }
      if (b.bucket) {
        if (!b.bucket.bucket) missing.push(['/bucket/bucket', t('targets.needBucket')]);
        if (!b.bucket.region) missing.push(['/bucket/region', t('targets.needRegion')]);
        if (!b.bucket.roleArn) missing.push(['/bucket/roleArn', t('targets.needRole')]);
      }
      if (missing.length) {
        showProblem(new ApiError('', 400, 'INVALID_REQUEST', undefined, missing.map(([pointer, detail]) => ({ pointer, detail }))), fields, status);
        return;
      }
      save.disabled = true;
      replace(status, h('p', { role: 'status' }, t('targets.creating')));
      try {
        const tg = await api.createTarget(b);
        // The credential was sent once; the form forgets it.
        f.reset();
        port.value = '22';
        authPw.checked = true;
        (kindInputs.find((i) => i.k === k) ?? kindInputs[0]).r.checked = true;
        syncAuth();
        syncKind();
        for (const x of Object.values(fields)) x.setError();
        replace(status);
        replace(msg, notice('success', t('targets.created', { name: tg.name })));
        await load();
      } catch (err) {
        if (err instanceof ApiError && err.code === 'FORBIDDEN') replace(status, notice('error', h('strong', null, t('targets.forbiddenTitle')), ' ', t('targets.notAllowed', { kind: kindLabel(k) }), ' ', h('span', { class: 'small' }, err.message)));
        else showProblem(err, fields, status);
      } finally {
        save.disabled = false;
      }
    });
    return f;
  }

  void (async () => {
    try {
      settings = await api.settings();
    } catch {
      settings = undefined; // the create form still works; a refusal says why
    }
    if (stopped) return;
    if (settings) {
      const extra = settings.deliveryTargets.filter((k) => k !== 's3link');
      replace(allowedSlot, extra.length ? null : notice('info', t('targets.noneAllowed')));
    }
    replace(formSlot, createForm());
    await load();
  })();
  return () => {
    stopped = true;
  };
};
