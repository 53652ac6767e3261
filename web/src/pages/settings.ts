// Settings: the tenant's effective limits and allowed delivery targets as
// they apply (GET /v1/settings, read-only: an operator sets them), and for
// an operator's token the operator page: pick a tenant, edit its settings
// (large files, row and byte limits, allowed target kinds, the notification
// contact with its write-only webhook secret) with the version it read
// (If-Match), see who changed them last and the audited changes.

import { h, id, replace } from '../dom';
import { t } from '../i18n';
import { ApiError, TARGET_KINDS, api, type FieldProblem, type OperatorContact, type SettingsBody, type SettingsChange, type TargetKind, type TenantSettings } from '../api';
import { bytes, num, when } from '../format';
import { session } from '../auth';
import { errorNotice, formField, loading, notice, pageHead, settingsTabs, showProblem, switchControl, type FormField } from '../ui';
import { kindLabel } from './targets';
import { contactEditor } from './notifications';
import type { Page } from '../main';

/** The hard maximums (tenancy: 5,000 rows / 5 MiB; with large files 1,000,000 rows / 500 MiB). */
const CEILING = { rows: 5000, bytes: 5 << 20 };
const LARGE = { rows: 1_000_000, bytes: 500 << 20 };

export const settingsPage: Page = (main) => {
  let stopped = false;
  const s = session();
  const body = h('div');
  replace(main, settingsTabs('limits', Boolean(s?.operator), true), pageHead(t('settings.title'), t('settings.sub')), body);
  replace(body, loading());
  void (async () => {
    try {
      const e = await api.settings();
      if (stopped) return;
      const kinds = e.deliveryTargets.length ? e.deliveryTargets : ['s3link' as TargetKind];
      replace(
        body,
        h(
          'section',
          { class: 'card', 'aria-labelledby': 'limits-h' },
          h('h2', { id: 'limits-h' }, t('settings.limits')),
          h(
            'dl',
            { class: 'tiles', 'data-testid': 'limits' },
            h('div', { class: 'tile', 'data-limit': 'rows' }, h('dt', null, t('settings.maxRows')), h('dd', null, num(e.maxRows))),
            h('div', { class: 'tile', 'data-limit': 'bytes' }, h('dt', null, t('settings.maxBytes')), h('dd', null, bytes(e.maxBytes))),
            h('div', { class: 'tile', 'data-limit': 'large' }, h('dt', null, t('settings.largeFiles')), h('dd', null, e.largeFiles ? t('common.yes') : t('common.no'))),
          ),
          h('h3', { class: 'sub-h' }, t('settings.targetsAllowed')),
          h('ul', { class: 'chip-list', 'data-testid': 'allowed-kinds' }, TARGET_KINDS.map((k) => h('li', { class: kinds.includes(k) ? 'chip chip-on' : 'chip chip-off' }, kindLabel(k), ' — ', kinds.includes(k) ? t('settings.allowed') : t('settings.notAllowed')))),
          h('p', { class: 'hint' }, t('settings.readOnly')),
        ),
      );
    } catch (err) {
      if (!stopped) replace(body, errorNotice(err));
    }
  })();
  return () => {
    stopped = true;
  };
};

/** opKindLabel names a target kind as an operator reads it ("the tenant's S3 bucket", not "your"). */
function opKindLabel(k: TargetKind): string {
  return t(`op.kind.${k}` as 'op.kind.sftp');
}

/** changed lists the fields a change made, as "field: before → after" (the contact's secret only as replaced). */
function changed(c: SettingsChange): string {
  const keys: (keyof SettingsBody)[] = ['largeFiles', 'maxRows', 'maxBytes', 'deliveryTargets'];
  const show = (v: unknown) => (Array.isArray(v) ? (v.length ? v.join(', ') : '—') : v === undefined || v === null || v === '' ? '—' : String(v));
  const parts: string[] = [];
  for (const k of keys) {
    const b = show(c.before?.[k] ?? (k === 'deliveryTargets' ? [] : k === 'largeFiles' ? false : 0));
    const a = show(c.after?.[k] ?? (k === 'deliveryTargets' ? [] : k === 'largeFiles' ? false : 0));
    if (a !== b) parts.push(`${k}: ${b} → ${a}`);
  }
  for (const k of ['email', 'webhook'] as const) {
    const b = show(c.before?.notification?.[k]);
    const a = show(c.after?.notification?.[k]);
    if (a !== b) parts.push(`notification.${k}: ${b} → ${a}`);
  }
  if (c.webhookSecretReplaced) parts.push(t('op.secretReplaced'));
  return parts.join('; ') || '—';
}

/** auditCard shows the latest audited changes of a tenant's settings. */
function auditCard(changes: SettingsChange[]): HTMLElement {
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'audit-h', 'data-testid': 'settings-audit' },
    h('h2', { id: 'audit-h' }, t('op.audit')),
    changes.length
      ? h(
          'div',
          { class: 'table-scroll' },
          h(
            'table',
            { class: 'table' },
            h('caption', { class: 'sr-only' }, t('op.audit')),
            h('thead', null, h('tr', null, [t('op.audit.version'), t('op.audit.at'), t('op.audit.by'), t('op.audit.changes')].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', null, changes.map((c) => h('tr', null, h('td', { class: 'num' }, String(c.version)), h('td', { class: 'time' }, when(c.at)), h('td', null, c.by), h('td', { class: 'mono' }, changed(c))))),
          ),
        )
      : h('p', { class: 'empty' }, t('op.audit.none')),
  );
}

/** operatorPage is the operator's view: a tenant's settings, edited as a whole. */
export const operatorPage: Page = (main, _params, query) => {
  let stopped = false;
  const s = session();
  const status = h('div', { 'aria-live': 'polite' });
  const editor = h('div');
  const tenantInput = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', pattern: '[a-z0-9][a-z0-9-]{0,62}', value: query.get('tenant') ?? '', placeholder: 'acme' });
  const tenantField = formField(t('op.tenant'), tenantInput, t('op.tenantHint'));
  const open = h('button', { type: 'submit', class: 'btn btn-primary' }, t('op.open'));
  const pick = h('form', { class: 'card op-pick', novalidate: true, 'aria-label': t('op.pick') }, h('div', { class: 'inline-fields align-end' }, tenantField.el, h('div', { class: 'field' }, open)), status);
  replace(main, settingsTabs('operator', true, Boolean(s?.tenant)), pageHead(t('op.title'), t('op.sub')), s?.operator ? pick : notice('warning', t('op.notOperator')), editor);

  function edit(cur: TenantSettings): HTMLElement {
    const fields: Record<string, FormField> = {};
    const msg = h('div', { 'aria-live': 'polite' });
    let large = cur.largeFiles;
    const largeSw = switchControl(t('op.largeFiles'), large, (on) => {
      large = on;
      syncHints();
    });
    const maxRows = h('input', { type: 'number', min: '0', step: '1', value: cur.maxRows ? String(cur.maxRows) : '', placeholder: '0' });
    const maxMB = h('input', { type: 'number', min: '0', step: 'any', value: cur.maxBytes ? String(+(cur.maxBytes / (1 << 20)).toFixed(3)) : '', placeholder: '0' });
    fields['/maxRows'] = formField(t('op.maxRows'), maxRows, ' ');
    fields['/maxBytes'] = formField(t('op.maxMB'), maxMB, ' ');
    const rowsHint = fields['/maxRows'].el.querySelector('.hint')!;
    const bytesHint = fields['/maxBytes'].el.querySelector('.hint')!;
    const syncHints = () => {
      const c = large ? LARGE : CEILING;
      rowsHint.textContent = t('op.maxRowsHint', { n: num(c.rows) });
      bytesHint.textContent = t('op.maxMBHint', { size: bytes(c.bytes) });
    };
    syncHints();
    const kindBoxes = TARGET_KINDS.filter((k) => k !== 's3link').map((k) => {
      const cb = h('input', { type: 'checkbox', value: k, checked: cur.deliveryTargets.includes(k), id: id('allow') });
      return { k, cb, el: h('label', { class: 'check-item', for: cb.id }, cb, h('span', null, opKindLabel(k))) };
    });
    const kindsBox = h('fieldset', null, h('legend', null, t('op.targets')), h('p', { class: 'hint' }, t('op.targetsHint')), h('div', { class: 'radio-row' }, kindBoxes.map((b) => b.el)));
    fields['/deliveryTargets'] = { el: kindsBox, control: kindBoxes[0].cb, setError: (m?: string) => (m ? replace(msg, notice('error', m)) : undefined) };
    // The notification contact: the tenant's Notifications page's fields, at /notification.
    const contact = contactEditor({ email: cur.notification?.email, webhook: cur.notification?.webhook, webhookSecretSet: Boolean(cur.notification?.webhookSecretSet) }, '/notification');
    Object.assign(fields, contact.fields);
    const contactBox = h('fieldset', { class: 'op-contact', 'data-testid': 'operator-contact' }, h('legend', null, t('op.contact')), h('p', { class: 'hint fieldset-hint' }, t('op.contactHint')), contact.el);
    const save = h('button', { type: 'submit', class: 'btn btn-primary' }, t('op.save'));
    const eff = cur.effective;
    const f = h(
      'form',
      { class: 'card', novalidate: true, 'aria-labelledby': 'op-edit-h', 'data-testid': 'operator-settings' },
      h('h2', { id: 'op-edit-h' }, t('op.editTitle', { tenant: cur.tenant })),
      h('p', { class: 'sub' }, cur.version ? t('op.version', { v: cur.version, by: cur.updatedBy || '—' }) : t('op.neverSet'), cur.updatedAt ? [' · ', when(cur.updatedAt)] : null),
      h('div', { class: 'field' }, largeSw, h('p', { class: 'hint' }, t('op.largeHint'))),
      h('div', { class: 'inline-fields' }, fields['/maxRows'].el, fields['/maxBytes'].el),
      kindsBox,
      h('p', { class: 'hint', 'data-testid': 'effective' }, t('op.effective', { rows: num(eff.maxRows), size: bytes(eff.maxBytes), kinds: eff.deliveryTargets.map(opKindLabel).join(', ') })),
      contactBox,
      h('div', { class: 'start-row' }, save),
      msg,
    );
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const rows = maxRows.value.trim() === '' ? 0 : Number(maxRows.value);
      const mb = maxMB.value.trim() === '' ? 0 : Number(maxMB.value);
      const local: FieldProblem[] = [];
      if (!Number.isInteger(rows) || rows < 0) local.push({ pointer: '/maxRows', detail: t('op.wholeNumber') });
      if (!Number.isFinite(mb) || mb < 0) local.push({ pointer: '/maxBytes', detail: t('op.wholeNumber') });
      local.push(...contact.check());
      if (local.length) {
        showProblem(new ApiError('', 400, 'INVALID_REQUEST', undefined, local), fields, msg);
        return;
      }
      const b: SettingsBody = { largeFiles: large, maxRows: rows, maxBytes: Math.round(mb * (1 << 20)), deliveryTargets: kindBoxes.filter((x) => x.cb.checked).map((x) => x.k) };
      // Left out, the contact stays as it is; sent only when the operator changed it.
      if (contact.changed()) b.notification = contact.value() satisfies OperatorContact;
      save.disabled = true;
      try {
        const saved = await api.putOperatorSettings(cur.tenant, b, cur.version);
        if (stopped) return;
        replace(editor, edit(saved), await audit(saved.tenant));
        const m = editor.querySelector('[aria-live]');
        if (m) replace(m as HTMLElement, notice('success', t('op.saved', { tenant: saved.tenant, v: saved.version })));
      } catch (err) {
        save.disabled = false;
        if (err instanceof ApiError && err.code === 'PRECONDITION_FAILED') replace(msg, notice('error', t('op.stale'), ' ', err.message));
        else showProblem(err, fields, msg);
      }
    });
    return f;
  }

  async function audit(tenant: string): Promise<HTMLElement> {
    try {
      return auditCard(await api.settingsAudit(tenant));
    } catch (e) {
      return errorNotice(e);
    }
  }

  async function openTenant(): Promise<void> {
    const tenant = tenantInput.value.trim();
    tenantField.setError();
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(tenant)) {
      tenantField.setError(t('op.tenantBad'));
      tenantInput.focus();
      return;
    }
    replace(status);
    replace(editor, loading());
    try {
      const cur = await api.operatorSettings(tenant);
      const log = await audit(tenant);
      if (!stopped) replace(editor, edit(cur), log);
    } catch (err) {
      replace(editor);
      if (err instanceof ApiError && err.status === 403) replace(status, notice('error', t('op.forbidden'), ' ', err.message));
      else showProblem(err, { '': tenantField }, status);
    }
  }
  pick.addEventListener('submit', (e) => {
    e.preventDefault();
    void openTenant();
  });
  if (s?.operator && tenantInput.value) void openTenant();
  return () => {
    stopped = true;
  };
};
