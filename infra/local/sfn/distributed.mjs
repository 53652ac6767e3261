// Distributed Map support for the local Step Functions server.
//
// aws-local-stepfunctions 3.0.0 runs inline Maps only: it has no code for
// ItemReader, ResultWriter, ToleratedFailure* or ProcessorConfig
// DISTRIBUTED, and no hook into its Map state. So the server rewrites each
// Distributed Map state, before handing the definition over, into a Task
// state of the same name (keeping its InputPath, ResultSelector,
// ResultPath, OutputPath, Retry, Catch, Next/End) whose work is done by a
// local handler (the interpreter's taskResourceLocalHandlers override):
// runDistributedMap below. The definition deployed (and given to
// CreateStateMachine) is unchanged; only the interpreter sees the rewrite.
//
// runDistributedMap does what Step Functions documents for a Map Run:
// - reads the items: ItemReader with Resource arn:aws:states:::s3:getObject
//   and ReaderConfig.InputType JSON (a JSON array in one S3 object) from
//   the S3 endpoint (AWS_ENDPOINT_URL_S3, signed with the environment's
//   credentials), or without an ItemReader the array at ItemsPath;
// - runs the ItemProcessor once per item as a child execution of its own
//   (its own history, under the same history limit; ItemSelector applied
//   with $$.Map.Item), at most MaxConcurrency (or MaxConcurrencyPath) at
//   once (unset or 0: 10,000);
// - fails the Map with States.ExceedToleratedFailureThreshold when more
//   children failed than ToleratedFailurePercentage / ToleratedFailureCount
//   allow (neither set: any failure), stopping the running children
//   (ABORTED) and starting no more;
// - with a ResultWriter (arn:aws:states:::s3:putObject, Parameters Bucket
//   and Prefix), writes <Prefix>/<map run id>/SUCCEEDED_0.json,
//   FAILED_0.json, PENDING_0.json (those with entries) and manifest.json
//   in AWS's shapes, and returns {MapRunArn, ResultWriterDetails:
//   {Bucket, Key}}; without one, returns the children's outputs in item
//   order.
// ItemBatcher, the other item sources and WriterConfig are not supported:
// a definition using them is refused at CreateStateMachine.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import { StateMachine } from 'aws-local-stepfunctions';

export const LOCAL_RESOURCE = 'arn:aws:states:::local:distributedMap';
const DEFAULT_CONCURRENCY = 10000;
const KEEP = ['Comment', 'InputPath', 'ResultSelector', 'ResultPath', 'OutputPath', 'Retry', 'Catch', 'Next', 'End'];

/** An error the interpreter's Retry and Catch match by name. */
export class StatesError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

function isDistributed(st) {
  return st && st.Type === 'Map' && st.ItemProcessor?.ProcessorConfig?.Mode === 'DISTRIBUTED';
}

/**
 * Rewrites every Distributed Map state of a definition (at any depth) into
 * a Task run by a local handler; returns the rewritten definition and the
 * original Map states by name. Throws on fields the local server cannot
 * run.
 */
export function rewrite(definition, maxTimeoutSeconds = 2_000_000) {
  const maps = new Map();
  const walk = (def) => {
    const states = {};
    for (const [name, st] of Object.entries(def.States || {})) {
      if (isDistributed(st)) {
        for (const f of ['ItemBatcher']) {
          if (st[f] !== undefined) throw new Error(`state ${name}: the local server does not run ${f}`);
        }
        const r = st.ItemReader;
        if (r && (r.Resource !== 'arn:aws:states:::s3:getObject' || r.ReaderConfig?.InputType !== 'JSON')) {
          throw new Error(`state ${name}: the local server reads only JSON items from s3:getObject`);
        }
        const w = st.ResultWriter;
        if (w && (w.Resource !== 'arn:aws:states:::s3:putObject' || w.WriterConfig)) {
          throw new Error(`state ${name}: the local server writes results only with s3:putObject and no WriterConfig`);
        }
        if (maps.has(name)) throw new Error(`state name ${name} is used twice`);
        maps.set(name, { ...st, ItemProcessor: walk(st.ItemProcessor) });
        const task = { Type: 'Task', Resource: LOCAL_RESOURCE, TimeoutSeconds: maxTimeoutSeconds };
        for (const k of KEEP) if (st[k] !== undefined) task[k] = st[k];
        states[name] = task;
        continue;
      }
      const copy = { ...st };
      for (const key of ['ItemProcessor', 'Iterator']) if (st[key]) copy[key] = walk(st[key]);
      if (st.Branches) copy.Branches = st.Branches.map(walk);
      states[name] = copy;
    }
    return { ...def, States: states };
  };
  return { definition: walk(definition), maps };
}

/** Evaluates a payload template (or a path) with the interpreter itself. */
export async function evaluate(template, input, context) {
  const sm = new StateMachine({ StartAt: 'T', States: { T: { Type: 'Pass', Parameters: template, End: true } } },
    { validationOptions: { noValidate: true } });
  return sm.run(input, { context }).result;
}

// --- S3 with Signature Version 4 (path-style, the local endpoint) ---

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();
const encodeKey = (key) => key.split('/').map((p) => encodeURIComponent(p).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())).join('/');

/** One signed S3 request against AWS_ENDPOINT_URL_S3; returns the response. */
export async function s3(method, bucket, key, body) {
  const base = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL;
  if (!base) throw new Error('AWS_ENDPOINT_URL_S3 is not set');
  const region = process.env.AWS_REGION || 'us-east-1';
  const url = new URL(base.replace(/\/$/, '') + '/' + encodeURIComponent(bucket) + '/' + encodeKey(key));
  const payload = body === undefined ? '' : body;
  const now = new Date();
  const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const headers = { host: url.host, 'x-amz-content-sha256': sha256(payload), 'x-amz-date': amzDate };
  if (process.env.AWS_SESSION_TOKEN) headers['x-amz-security-token'] = process.env.AWS_SESSION_TOKEN;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const names = Object.keys(headers).sort();
  const canonical = [method, url.pathname, '', ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), headers['x-amz-content-sha256']].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let k = hmac('AWS4' + (process.env.AWS_SECRET_ACCESS_KEY || ''), day);
  k = hmac(hmac(hmac(k, region), 's3'), 'aws4_request');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${process.env.AWS_ACCESS_KEY_ID || ''}/${scope}, SignedHeaders=${names.join(';')}, Signature=${createHmac('sha256', k).update(toSign).digest('hex')}`;
  delete headers.host;
  return fetch(url, { method, headers, body: body === undefined ? undefined : payload });
}

async function readItems(st, input, ctx) {
  if (!st.ItemReader) {
    const items = st.ItemsPath ? (await evaluate({ 'v.$': st.ItemsPath }, input, ctx)).v : input;
    if (!Array.isArray(items)) throw new StatesError('States.Runtime', 'the Map\'s items are not an array');
    return items;
  }
  const p = await evaluate(st.ItemReader.Parameters || {}, input, ctx);
  let res;
  try {
    res = await s3('GET', p.Bucket, p.Key);
  } catch (err) {
    throw new StatesError('States.ItemReaderFailed', `reading s3://${p.Bucket}/${p.Key}: ${err.message}`);
  }
  const text = await res.text();
  if (!res.ok) throw new StatesError('States.ItemReaderFailed', `reading s3://${p.Bucket}/${p.Key}: HTTP ${res.status} ${text.slice(0, 200)}`);
  let items;
  try {
    items = JSON.parse(text);
  } catch (err) {
    throw new StatesError('States.ItemReaderFailed', `s3://${p.Bucket}/${p.Key} is not JSON: ${err.message}`);
  }
  if (!Array.isArray(items)) throw new StatesError('States.ItemReaderFailed', `s3://${p.Bucket}/${p.Key} is not a JSON array`);
  return items;
}

async function put(bucket, key, doc) {
  const body = JSON.stringify(doc);
  const res = await s3('PUT', bucket, key, body);
  if (!res.ok) throw new StatesError('States.ResultWriterFailed', `writing s3://${bucket}/${key}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return Buffer.byteLength(body);
}

/** The ResultWriter entry of one child execution, in AWS's shape. */
function resultEntry(c) {
  const iso = (s) => (s ? new Date(s * 1000).toISOString() : undefined);
  const out = {
    ExecutionArn: c.arn, Input: c.input, InputDetails: { Included: true }, Name: c.name,
    StartDate: iso(c.startDate), StateMachineArn: c.stateMachineArn, Status: c.status, StopDate: iso(c.stopDate),
    RedriveCount: 0, RedriveStatus: 'NOT_REDRIVABLE',
  };
  if (c.output !== undefined) { out.Output = c.output; out.OutputDetails = { Included: true }; }
  if (c.error) out.Error = c.error;
  if (c.cause !== undefined) out.Cause = c.cause;
  return out;
}

/**
 * Runs one Distributed Map state st (the original definition) named name
 * for the parent execution: input is the state's effective input, parent
 * the server's execution record, ctx its context object. host gives the
 * server's part: startChild(parent, spec) starts a child execution record
 * and returns {record, result}; stopChild(record) aborts one; mapRun(run)
 * registers the Map Run; event(parent, name, h) adds a history event of
 * state name to the parent.
 */
export async function runDistributedMap({ name, st, input, parent, ctx, host }) {
  const label = st.Label || name;
  const runId = randomUUID();
  const smName = ctx.StateMachine.Name;
  const run = {
    mapRunArn: ctx.StateMachine.Id.replace(':stateMachine:', ':mapRun:') + `/${label}:${runId}`,
    executionArn: parent.arn, status: 'RUNNING', startDate: Date.now() / 1000,
    toleratedFailurePercentage: st.ToleratedFailurePercentage ?? 0, toleratedFailureCount: st.ToleratedFailureCount ?? 0,
    counts: { pending: 0, running: 0, succeeded: 0, failed: 0, timedOut: 0, aborted: 0, total: 0, resultsWritten: 0 },
  };
  host.mapRun(run);
  host.event(parent, name, { type: 'MapRunStarted', mapRunStartedEventDetails: { mapRunArn: run.mapRunArn } });
  const end = (status, error, cause) => {
    run.status = status;
    run.stopDate = Date.now() / 1000;
    if (status === 'SUCCEEDED') host.event(parent, name, { type: 'MapRunSucceeded' });
    else host.event(parent, name, { type: 'MapRunFailed', mapRunFailedEventDetails: { error, cause } });
  };
  let items;
  try {
    items = await readItems(st, input, ctx);
    let max = st.MaxConcurrency;
    if (st.MaxConcurrencyPath) max = (await evaluate({ 'v.$': st.MaxConcurrencyPath }, input, ctx)).v;
    if (max !== undefined && (!Number.isInteger(max) || max < 0)) throw new StatesError('States.Runtime', `MaxConcurrency ${JSON.stringify(max)} is not a whole number, 0 or more`);
    run.maxConcurrency = max || 0;
    run.counts.total = run.counts.pending = items.length;

    const limit = pLimit(max || DEFAULT_CONCURRENCY);
    const children = new Array(items.length);
    let over = null; // the tolerated failure threshold was exceeded
    const tolerated = () => {
      const f = run.counts.failed + run.counts.timedOut + run.counts.aborted;
      const pctSet = st.ToleratedFailurePercentage !== undefined;
      const cntSet = st.ToleratedFailureCount !== undefined;
      if (!pctSet && !cntSet) return f === 0;
      return !((pctSet && (100 * f) / items.length > st.ToleratedFailurePercentage) || (cntSet && f > st.ToleratedFailureCount));
    };
    const one = async (item, i) => {
      if (over || parent.status !== 'RUNNING') return;
      const childInput = st.ItemSelector
        ? await evaluate(st.ItemSelector, input, { ...ctx, Map: { Item: { Index: i, Value: item } } })
        : item;
      run.counts.pending--;
      run.counts.running++;
      const { record, result } = host.startChild(parent, {
        name: randomUUID(), label, runArn: run.mapRunArn, definition: st.ItemProcessor, input: childInput,
        stateMachineArn: `${ctx.StateMachine.Id}/${label}`, stateMachineName: `${smName}/${label}`,
      });
      children[i] = record;
      await result;
      run.counts.running--;
      const key = { SUCCEEDED: 'succeeded', FAILED: 'failed', TIMED_OUT: 'timedOut', ABORTED: 'aborted' }[record.status] || 'failed';
      run.counts[key]++;
      if (!over && !tolerated()) {
        over = record;
        for (const c of children) if (c && c.status === 'RUNNING') host.stopChild(c);
      }
    };
    await Promise.all(items.map((item, i) => limit(() => one(item, i))));
    if (st.ResultWriter) {
      const p = await evaluate(st.ResultWriter.Parameters || {}, input, ctx);
      const prefix = `${String(p.Prefix || '').replace(/\/+$/, '')}/${runId}`.replace(/^\//, '');
      const groups = { SUCCEEDED: [], FAILED: [], PENDING: [] };
      children.forEach((c) => {
        if (!c) return;
        if (c.status === 'SUCCEEDED') groups.SUCCEEDED.push(resultEntry(c));
        else groups.FAILED.push(resultEntry(c));
      });
      const pending = items.length - children.filter(Boolean).length;
      for (let i = 0; i < pending; i++) groups.PENDING.push({ Status: 'PENDING' });
      const manifest = { DestinationBucket: p.Bucket, MapRunArn: run.mapRunArn, ResultFiles: { FAILED: [], PENDING: [], SUCCEEDED: [] } };
      for (const [status, entries] of Object.entries(groups)) {
        if (!entries.length) continue;
        const key = `${prefix}/${status}_0.json`;
        manifest.ResultFiles[status].push({ Key: key, Size: await put(p.Bucket, key, entries) });
      }
      run.counts.resultsWritten = groups.SUCCEEDED.length + groups.FAILED.length;
      const manifestKey = `${prefix}/manifest.json`;
      await put(p.Bucket, manifestKey, manifest);
      run.resultWriterDetails = { Bucket: p.Bucket, Key: manifestKey };
    }
    if (over) {
      const cause = `The specified tolerated failure threshold was exceeded: child execution ${over.arn} ended ${over.status}` +
        (over.error ? ` with ${over.error}: ${over.cause ?? ''}` : '');
      throw new StatesError('States.ExceedToleratedFailureThreshold', cause);
    }
    end('SUCCEEDED');
    if (st.ResultWriter) return { MapRunArn: run.mapRunArn, ResultWriterDetails: run.resultWriterDetails };
    return children.map((c) => JSON.parse(c.output ?? 'null'));
  } catch (err) {
    const e = err instanceof StatesError ? err : new StatesError('States.Runtime', String(err && err.message));
    end('FAILED', e.name, e.message);
    throw e;
  }
}
