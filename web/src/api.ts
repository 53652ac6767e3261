// The HTTP API (shared/httpapi, openapi.json) as the console uses it. Every
// call carries the bearer token; errors become ApiError with the problem
// document's detail, which is what the page shows (never the raw JSON).

import { config } from './config';
import { session } from './auth';

export type Status = 'New' | 'In Progress' | 'Completed' | 'Completed with errors' | 'Failed' | 'Cancelled';
export const STATUSES: Status[] = ['New', 'In Progress', 'Completed', 'Completed with errors', 'Failed', 'Cancelled'];

export interface Counts { total: number; processed: number; created: number; updated: number; unchanged: number; failed: number }
export interface Links { errors?: string; results?: string; changes?: string; expiresAt: string }
/** The import that applies a dry run's previewed changes (POST /v1/jobs/{id}/apply). */
export interface Applied { jobId: string; previewJobId: string; objectType: string; fileName: string }
export interface Job {
  id: string;
  type: 'import' | 'export';
  objectType: string;
  fileName: string;
  dryRun: boolean;
  status: Status;
  submittedBy: string;
  submittedAt: string;
  startedAt?: string;
  endedAt?: string;
  counts: Counts;
  chunks: number;
  message?: string;
  /** Who cancelled the job (POST /v1/jobs/{id}/cancel). */
  cancelledBy?: string;
  /** The import whose rejected rows this job retries, and the job that retries this one's (POST /v1/jobs/{id}/retry). */
  retryOf?: string;
  retriedBy?: string;
  files?: number;
  percent: number;
  etaSeconds?: number;
  links?: Links;
  delivery?: Delivery;
}

export interface Column {
  header: string;
  aliases?: string[];
  required: boolean;
  kind: string;
  multi?: boolean;
  values?: string[];
  ref?: string;
  immutable?: boolean;
  doc?: string;
  example?: string;
}
export interface ObjectType {
  slug: string;
  name: string;
  aliases?: string[];
  key: string[];
  actionColumn?: boolean;
  columns: Column[];
  columnFamilies?: string[];
  notes?: string[];
}

export interface Upload { url: string; fields: Record<string, string> }
export interface ImportTicket { jobId: string; objectType: string; fileName: string; dryRun: boolean; maxBytes: number; expiresAt: string; upload: Upload }

export interface Filter { field: string; op: 'equals' | 'contains' | 'startsWith' | 'empty' | 'notEmpty'; value?: string }
export interface ExportOptions {
  fields?: string[];
  header?: 'labels' | 'keys';
  multiValue?: 'joined' | 'columns';
  filters?: Filter[];
  splitRows?: number;
  splitBytes?: number;
  noNeutralize?: boolean;
  range?: { mode?: 'all' | 'interval' | 'incremental'; from?: string; to?: string };
  format?: 'zip' | 'csv';
  stableName?: boolean;
}

export type TargetKind = 's3link' | 'sftp' | 's3bucket';
export const TARGET_KINDS: TargetKind[] = ['s3link', 'sftp', 's3bucket'];
export type DeliveryPhase = 'config' | 'credential' | 'connect' | 'host-key' | 'authenticate' | 'folder' | 'write' | 'rename' | 'cleanup';
/** Where an export's file was delivered, or the phase its delivery failed in (never a secret). */
export interface Delivery { targetId: string; targetName?: string; kind: TargetKind; destination?: string; remoteName?: string; bytes?: number; phase?: DeliveryPhase; error?: string }
export interface SFTPTarget { host: string; port?: number; user: string; folder?: string; hostKey: string; hostKeyFingerprint?: string; auth: 'password' | 'private-key'; credentialArn?: string }
export interface BucketTarget { bucket: string; prefix?: string; region: string; roleArn: string }
/** A delivery target as the API answers it: credentials are never in it. */
export interface Target { id: string; name: string; kind: TargetKind; sftp?: SFTPTarget; bucket?: BucketTarget; createdBy?: string; createdAt?: string }
/** What POST /v1/targets takes: the password, private key and passphrase are write-only. */
export interface TargetRequest {
  name: string;
  kind: TargetKind;
  sftp?: Omit<SFTPTarget, 'credentialArn' | 'auth'> & { auth?: SFTPTarget['auth']; password?: string; privateKey?: string; passphrase?: string };
  bucket?: BucketTarget;
}
export interface TargetTest { ok: boolean; phase?: DeliveryPhase; sentence: string }
/** The tenant's notification contact; the webhook's secret is never answered. */
export interface NotificationSettings { email?: string; webhook?: string; webhookSecretSet: boolean }
export interface NotificationUpdate { email: string; webhook: string; webhookSecret?: string }
export interface EffectiveSettings { largeFiles: boolean; maxRows: number; maxBytes: number; deliveryTargets: TargetKind[] }
/**
 * OperatorContact is a tenant's notification contact as an operator sets and
 * sees it: webhookSecret is write-only (sent, never answered);
 * webhookSecretSet (answers only) says one is kept.
 */
export interface OperatorContact { email?: string; webhook?: string; webhookSecret?: string; webhookSecretSet?: boolean }
/** SettingsBody is a tenant's settings as a whole; notification left out keeps the contact. */
export interface SettingsBody { largeFiles: boolean; maxRows: number; maxBytes: number; deliveryTargets: TargetKind[]; notification?: OperatorContact }
/** One audited change of a tenant's settings (never the secret: whether it was replaced). */
export interface SettingsChange { version: number; by: string; at: string; before: Partial<SettingsBody>; after: Partial<SettingsBody>; webhookSecretReplaced?: boolean }
export interface TenantSettings extends SettingsBody { tenant: string; effective: EffectiveSettings; version: number; updatedAt?: string; updatedBy?: string }

export interface When {
  frequency: 'once' | 'hourly' | 'daily' | 'weekly' | 'monthly';
  timeZone?: string;
  at?: string;
  time?: string;
  weekday?: number;
  day?: number;
}
export interface ScheduleBody {
  title: string;
  description?: string;
  objectTypes: string[];
  prefix?: string;
  when: When;
  options?: ExportOptions;
  maxFailures?: number;
  targetId?: string;
}
export interface Schedule extends ScheduleBody {
  id: string;
  active: boolean;
  nextRun?: string;
  lastRun?: string;
  lastJob?: string;
  runningJob?: string;
  consecutiveFailures: number;
  suspendedReason?: string;
  submitted?: boolean;
  createdBy: string;
  createdAt: string;
  updatedAt?: string;
  version: number;
  whenText: string;
}
export interface Run {
  jobId: string;
  planned?: string;
  window?: { from?: string; to?: string };
  test?: boolean;
  at: string;
  status: Status | 'Unknown';
  startedAt?: string;
  endedAt?: string;
  rows: number;
  files?: number;
  fileName?: string;
  error?: string;
  percent: number;
  etaSeconds?: number;
  links?: Links;
  delivery?: Delivery;
}

/** A field of an invalid body at fault: an RFC 6901 pointer into the body ("" for the body as a whole). */
export interface FieldProblem { pointer: string; detail: string }

/** ApiError is a failed call: the problem's detail and code. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly activeJobId?: string,
    readonly fields: FieldProblem[] = [],
  ) {
    super(message);
  }
}

/** onUnauthenticated is called when the API refuses the token (expired, revoked). */
export let onUnauthenticated: () => void = () => {};
export function setOnUnauthenticated(f: () => void): void {
  onUnauthenticated = f;
}

async function problemOf(res: Response): Promise<ApiError> {
  let detail = '';
  let code = '';
  let active: string | undefined;
  let fields: FieldProblem[] = [];
  try {
    const p = (await res.json()) as { detail?: string; code?: string; activeJobId?: string; errors?: FieldProblem[]; message?: string };
    detail = p.detail || p.message || '';
    code = p.code || '';
    active = p.activeJobId;
    if (Array.isArray(p.errors)) fields = p.errors.filter((e) => e && typeof e.pointer === 'string' && typeof e.detail === 'string');
  } catch {
    // not a problem document (a gateway's own answer)
  }
  return new ApiError(detail || `${res.status} ${res.statusText}`, res.status, code || String(res.status), active, fields);
}

/** call sends one request to the API and returns the decoded JSON (undefined for 204). */
export async function call<T>(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<T> {
  const s = session();
  const headers: Record<string, string> = { ...extra };
  // Operator routes take the access token: the operator scope is one of its scopes.
  const useId = config.apiToken === 'id' && s?.idToken && !path.startsWith('/v1/operator/');
  if (s) headers.Authorization = `Bearer ${useId ? s.idToken : s.accessToken}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  // One key per user action: a POST the browser retries is not done twice.
  if (method === 'POST') headers['Idempotency-Key'] = crypto.randomUUID();
  let res: Response;
  try {
    res = await fetch(config.apiBase + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError('', 0, 'NETWORK');
  }
  if (res.status === 401) {
    onUnauthenticated();
    throw await problemOf(res);
  }
  if (!res.ok) throw await problemOf(res);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) return (await res.json()) as T;
  return (await res.blob()) as T;
}

export interface JobQuery { q?: string; status?: string; type?: string; objectType?: string; limit?: number; cursor?: string }

export const api = {
  objectTypes: () => call<{ objectTypes: ObjectType[] }>('GET', '/v1/object-types').then((r) => r.objectTypes),
  template: (slug: string, example: boolean) => call<Blob>('GET', `/v1/object-types/${encodeURIComponent(slug)}/template?example=${example}`),
  jobs: (q: JobQuery) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
    return call<{ jobs: Job[]; nextCursor?: string }>('GET', `/v1/jobs?${p}`);
  },
  job: (id: string) => call<Job>('GET', `/v1/jobs/${encodeURIComponent(id)}`),
  cancelJob: (id: string) => call<Job>('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`),
  applyJob: (id: string) => call<Applied>('POST', `/v1/jobs/${encodeURIComponent(id)}/apply`),
  retryJob: (id: string) => call<{ jobId: string; retryOf: string; fileName: string; key: string; status: string }>('POST', `/v1/jobs/${encodeURIComponent(id)}/retry`, {}),
  createImport: (objectType: string, fileName: string, dryRun: boolean) => call<ImportTicket>('POST', '/v1/imports', { objectType, fileName, dryRun }),
  createExport: (objectTypes: string[], prefix: string, options: ExportOptions, targetId?: string) => call<Job>('POST', '/v1/exports', { objectTypes, prefix, options, ...(targetId ? { targetId } : {}) }),
  schedules: () => call<{ schedules: Schedule[] }>('GET', '/v1/schedules').then((r) => r.schedules),
  schedule: (id: string) => call<Schedule>('GET', `/v1/schedules/${encodeURIComponent(id)}`),
  createSchedule: (b: ScheduleBody) => call<Schedule>('POST', '/v1/schedules', b),
  updateSchedule: (id: string, b: ScheduleBody, version: number) => call<Schedule>('PUT', `/v1/schedules/${encodeURIComponent(id)}`, { ...b, version }),
  deleteSchedule: (id: string) => call<void>('DELETE', `/v1/schedules/${encodeURIComponent(id)}`),
  cloneSchedule: (id: string) => call<Schedule>('POST', `/v1/schedules/${encodeURIComponent(id)}/clone`),
  suspendSchedule: (id: string) => call<Schedule>('POST', `/v1/schedules/${encodeURIComponent(id)}/suspend`),
  resumeSchedule: (id: string) => call<Schedule>('POST', `/v1/schedules/${encodeURIComponent(id)}/resume`),
  testSchedule: (id: string) => call<Job>('POST', `/v1/schedules/${encodeURIComponent(id)}/test`),
  targets: () => call<{ targets: Target[] }>('GET', '/v1/targets?limit=50').then((r) => r.targets),
  createTarget: (b: TargetRequest) => call<Target>('POST', '/v1/targets', b),
  deleteTarget: (id: string) => call<void>('DELETE', `/v1/targets/${encodeURIComponent(id)}`),
  testTarget: (id: string) => call<TargetTest>('POST', `/v1/targets/${encodeURIComponent(id)}/test`),
  notifications: () => call<NotificationSettings>('GET', '/v1/settings/notifications'),
  putNotifications: (b: NotificationUpdate) => call<NotificationSettings>('PUT', '/v1/settings/notifications', b),
  settings: () => call<EffectiveSettings>('GET', '/v1/settings'),
  operatorSettings: (tenant: string) => call<TenantSettings>('GET', `/v1/operator/tenants/${encodeURIComponent(tenant)}/settings`),
  settingsAudit: (tenant: string, limit = 10) => call<{ tenant: string; changes: SettingsChange[] }>('GET', `/v1/operator/tenants/${encodeURIComponent(tenant)}/settings/audit?limit=${limit}`).then((r) => r.changes),
  putOperatorSettings: (tenant: string, b: SettingsBody, version: number) => call<TenantSettings>('PUT', `/v1/operator/tenants/${encodeURIComponent(tenant)}/settings`, b, { 'If-Match': `"${version}"` }),
  runs: (id: string, limit = 25) => call<{ runs: Run[] }>('GET', `/v1/schedules/${encodeURIComponent(id)}/runs?limit=${limit}`).then((r) => r.runs),
};

/**
 * activeJob is the tenant's running bulk operation (New or In Progress),
 * newest first, or undefined. One runs at a time per tenant.
 */
export async function activeJob(): Promise<Job | undefined> {
  const [inProgress, fresh] = await Promise.all([api.jobs({ status: 'In Progress', limit: 1 }), api.jobs({ status: 'New', limit: 1 })]);
  return inProgress.jobs[0] ?? fresh.jobs[0];
}

/**
 * uploadFile posts file to S3 with the presigned form, reporting progress
 * (0..1). S3 answers 204 (or 201) on success; an XML error otherwise.
 */
export function uploadFile(up: Upload, file: Blob, fileName: string, progress: (f: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(up.fields)) form.append(k, v);
    form.append('file', file, fileName);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', up.url);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) progress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        progress(1);
        resolve();
        return;
      }
      const m = /<Message>([^<]*)<\/Message>/.exec(xhr.responseText || '');
      reject(new ApiError(m ? m[1] : `HTTP ${xhr.status}`, xhr.status, 'UPLOAD'));
    };
    xhr.onerror = () => reject(new ApiError('', 0, 'NETWORK'));
    xhr.send(form);
  });
}
