// Notification settings: the e-mail address and HTTPS webhook that failed
// scheduled runs and failed imports are told to. The webhook's signing
// secret is write-only: the page says whether one is kept, and replacing it
// is a deliberate step; it is never shown or sent back. contactEditor is
// the contact's fields, shared with the operator page.

import { h, replace } from '../dom';
import { t } from '../i18n';
import { ApiError, api, type FieldProblem, type NotificationSettings, type NotificationUpdate } from '../api';
import { session } from '../auth';
import { errorNotice, formField, loading, notice, pageHead, settingsTabs, showProblem, type FormField } from '../ui';
import type { Page } from '../main';

/** randomSecret is 48 URL-safe characters from the browser's CSPRNG (for "Generate"). */
function randomSecret(): string {
  const b = crypto.getRandomValues(new Uint8Array(36));
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** ContactEditor is the notification contact's fields (e-mail, webhook, write-only secret). */
export interface ContactEditor {
  /** el holds the e-mail field and the webhook fieldset. */
  el: HTMLElement;
  /** fields are the field slots by JSON pointer: at + /email, /webhook, /webhookSecret. */
  fields: Record<string, FormField>;
  /** value is the contact to send (the secret only when one is being set). */
  value(): NotificationUpdate;
  /** check is what the browser can tell before asking (https, a needed or malformed secret), by pointer. */
  check(): FieldProblem[];
  /** changed says whether value() differs from the contact the editor started with. */
  changed(): boolean;
}

/**
 * contactEditor builds the contact's fields from cur. at is the contact's
 * JSON pointer in the request body ('' on the tenant's page,
 * '/notification' on the operator's), so the API's errors[] land here.
 */
export function contactEditor(cur: NotificationSettings, at = ''): ContactEditor {
  const fields: Record<string, FormField> = {};
  const email = h('input', { type: 'email', maxlength: '254', autocomplete: 'email', value: cur.email ?? '', spellcheck: 'false' });
  const webhook = h('input', { type: 'url', maxlength: '2048', autocomplete: 'off', value: cur.webhook ?? '', spellcheck: 'false', placeholder: 'https://hooks.example.com/bulkops' });
  const secret = h('input', { type: 'password', autocomplete: 'new-password', maxlength: '256', spellcheck: 'false', 'data-testid': 'webhook-secret' });
  fields[`${at}/email`] = formField(t('notify.email'), email, t('notify.emailHint'));
  fields[`${at}/webhook`] = formField(t('notify.webhook'), webhook, t('notify.webhookHint'));
  const secretField = formField(cur.webhookSecretSet ? t('notify.newSecret') : t('notify.secret'), secret, cur.webhookSecretSet ? t('notify.secretHint') : `${t('notify.secretNone')} ${t('notify.secretHint')}`);
  fields[`${at}/webhookSecret`] = secretField;
  const show = h('input', { type: 'checkbox', id: `${secret.id}-show` });
  show.addEventListener('change', () => (secret.type = show.checked ? 'text' : 'password'));
  const gen = h('button', { type: 'button', class: 'btn btn-small' }, t('notify.generate'));
  gen.addEventListener('click', () => {
    secret.value = randomSecret();
    show.checked = true;
    secret.type = 'text';
    secret.focus();
  });
  secretField.el.appendChild(h('div', { class: 'btn-row tight' }, gen, h('label', { class: 'check-item', for: show.id }, show, h('span', null, t('notify.showSecret')))));

  // A kept secret is not shown: the state says it is there; "Replace" opens the field.
  const secretState = h('div', { class: 'secret-state', 'data-testid': 'secret-state' });
  let replacing = !cur.webhookSecretSet;
  const syncSecret = () => {
    secretField.el.hidden = !replacing;
    if (cur.webhookSecretSet) {
      const again = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'replace-secret' }, replacing ? t('notify.keepSecret') : t('notify.replaceSecret'));
      again.addEventListener('click', () => {
        replacing = !replacing;
        if (!replacing) {
          secret.value = '';
          secretField.setError();
        }
        syncSecret();
        if (replacing) secret.focus();
      });
      replace(secretState, h('p', { class: 'secret-set' }, h('span', { class: 'check-icon', 'aria-hidden': 'true' }, '\u2713'), h('span', null, replacing ? t('notify.secretReplacing') : t('notify.secretSet'))), again);
    }
  };
  syncSecret();

  const el = h(
    'div',
    { class: 'contact-fields' },
    fields[`${at}/email`].el,
    h('fieldset', null, h('legend', null, t('notify.webhookLegend')), fields[`${at}/webhook`].el, cur.webhookSecretSet ? h('div', { class: 'field' }, h('span', { class: 'label' }, t('notify.secret')), secretState) : null, secretField.el),
  );
  const value = (): NotificationUpdate => {
    const b: NotificationUpdate = { email: email.value.trim(), webhook: webhook.value.trim() };
    if (replacing && secret.value && b.webhook) b.webhookSecret = secret.value;
    return b;
  };
  return {
    el,
    fields,
    value,
    check() {
      const b = value();
      const local: FieldProblem[] = [];
      if (b.webhook && !/^https:\/\//i.test(b.webhook)) local.push({ pointer: `${at}/webhook`, detail: t('notify.webhookHttps') });
      if (replacing && b.webhook && !secret.value && !cur.webhookSecretSet) local.push({ pointer: `${at}/webhookSecret`, detail: t('notify.secretNeeded') });
      if (b.webhookSecret && (b.webhookSecret.length < 32 || /\s/.test(b.webhookSecret))) local.push({ pointer: `${at}/webhookSecret`, detail: t('notify.secretBad') });
      return local;
    },
    changed() {
      const b = value();
      return b.email !== (cur.email ?? '') || b.webhook !== (cur.webhook ?? '') || Boolean(b.webhookSecret);
    },
  };
}

export const notificationsPage: Page = (main) => {
  let stopped = false;
  const s = session();
  const body = h('div');
  replace(main, settingsTabs('notifications', Boolean(s?.operator), true), pageHead(t('notify.title'), t('notify.sub')), body);
  replace(body, loading());

  function form(cur: NotificationSettings): HTMLElement {
    const status = h('div', { 'aria-live': 'polite' });
    const contact = contactEditor(cur);
    const save = h('button', { type: 'submit', class: 'btn btn-primary' }, t('notify.save'));
    const f = h(
      'form',
      { class: 'card', novalidate: true, 'aria-labelledby': 'notify-h' },
      h('h2', { id: 'notify-h' }, t('notify.contact')),
      h('p', { class: 'sub' }, t('notify.what')),
      contact.el,
      h('div', { class: 'start-row' }, save),
      status,
    );
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const local = contact.check();
      if (local.length) {
        showProblem(new ApiError('', 400, 'INVALID_REQUEST', undefined, local), contact.fields, status);
        return;
      }
      save.disabled = true;
      try {
        const saved = await api.putNotifications(contact.value());
        if (stopped) return;
        replace(body, form(saved));
        const st = body.querySelector('[data-save-status]');
        if (st) replace(st as HTMLElement, notice('success', saved.email || saved.webhook ? t('notify.saved') : t('notify.savedOff')));
      } catch (err) {
        save.disabled = false;
        showProblem(err, contact.fields, status);
      }
    });
    status.setAttribute('data-save-status', '');
    return f;
  }

  void (async () => {
    try {
      const cur = await api.notifications();
      if (!stopped) replace(body, form(cur));
    } catch (e) {
      if (!stopped) replace(body, errorNotice(e));
    }
  })();
  return () => {
    stopped = true;
  };
};
