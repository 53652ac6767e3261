// Tests of the local server's Distributed Map (distributed.mjs): node
// --test (see test.sh). A tiny Lambda Invoke endpoint and a tiny S3
// endpoint (path-style GET/PUT, checking that requests are signed) stand
// in here; cmd/devserver's stack test runs the same code against MinIO.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

let lambda, store, sfn, sfnURL;
const objects = new Map(); // "bucket/key" -> body
let inFlight = 0;
let maxInFlight = 0;
const calls = [];

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}
function body(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
  });
}

before(async () => {
  // "work" takes 30 ms and echoes; it fails for good (Bulk.Invalid) on
  // an item whose value is "bad". "record" echoes.
  lambda = http.createServer(async (req, res) => {
    const fn = decodeURIComponent(req.url.split('/')[3]);
    const name = fn.slice(fn.lastIndexOf(':') + 1);
    const input = JSON.parse((await body(req)) || 'null');
    calls.push({ name, input });
    if (name === 'work') {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 30));
      inFlight--;
      if (input.item === 'bad') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Amz-Function-Error': 'Unhandled' });
        res.end(JSON.stringify({ errorType: 'Bulk.Invalid', errorMessage: 'bad item' }));
        return;
      }
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ done: input.item, by: name, run: input.run }));
  });
  store = http.createServer(async (req, res) => {
    const key = decodeURIComponent(new URL(req.url, 'http://x').pathname.slice(1));
    const text = await body(req);
    if (!/^AWS4-HMAC-SHA256 Credential=local\//.test(req.headers.authorization || '')) {
      res.writeHead(403);
      res.end('<Error><Code>AccessDenied</Code></Error>');
      return;
    }
    if (req.method === 'PUT') {
      objects.set(key, text);
      res.writeHead(200);
      res.end();
    } else if (objects.has(key)) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(objects.get(key));
    } else {
      res.writeHead(404);
      res.end('<Error><Code>NoSuchKey</Code></Error>');
    }
  });
  process.env.AWS_ENDPOINT_URL_LAMBDA = `http://127.0.0.1:${await listen(lambda)}`;
  process.env.AWS_ENDPOINT_URL_S3 = `http://127.0.0.1:${await listen(store)}`;
  process.env.AWS_ACCESS_KEY_ID = 'local';
  process.env.AWS_SECRET_ACCESS_KEY ||= 'localsecret';
  process.env.AWS_REGION ||= 'us-east-1';
  const { createServer } = await import('./server.mjs');
  sfn = createServer({ maxHistory: 1000 });
  sfnURL = `http://127.0.0.1:${await listen(sfn)}/`;
});

after(() => {
  sfn.close();
  lambda.close();
  store.close();
});

async function call(op, req) {
  const res = await fetch(sfnURL, {
    method: 'POST',
    headers: { 'X-Amz-Target': `AWSStepFunctions.${op}`, 'Content-Type': 'application/x-amz-json-1.0' },
    body: JSON.stringify(req),
  });
  return res.json();
}
async function finished(executionArn) {
  for (let i = 0; i < 400; i++) {
    const d = await call('DescribeExecution', { executionArn });
    if (d.status !== 'RUNNING') return d;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('execution did not finish');
}
async function history(executionArn) {
  return (await call('GetExecutionHistory', { executionArn, maxResults: 1000 })).events;
}
const fn = (name) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

/** A machine: a Choice between an inline and a Distributed Map running the same task. */
function definition() {
  const processor = (suffix, mode) => ({
    ProcessorConfig: mode === 'DISTRIBUTED' ? { Mode: mode, ExecutionType: 'STANDARD' } : { Mode: mode },
    StartAt: `Work${suffix}`,
    States: {
      [`Work${suffix}`]: {
        Type: 'Task', Resource: fn('work'), TimeoutSeconds: 10,
        Retry: [{ ErrorEquals: ['Bulk.Transient'], MaxAttempts: 2 }], End: true,
      },
    },
  });
  const selector = { 'item.$': '$$.Map.Item.Value', 'index.$': '$$.Map.Item.Index', 'run.$': '$.run' };
  return JSON.stringify({
    StartAt: 'Choose', TimeoutSeconds: 60,
    States: {
      Choose: { Type: 'Choice', Choices: [{ Variable: '$.plan.distributed', BooleanEquals: true, Next: 'Big' }], Default: 'Small' },
      Small: {
        Type: 'Map', ItemsPath: '$.plan.items', MaxConcurrencyPath: '$.plan.max', ItemSelector: selector,
        ItemProcessor: processor('', 'INLINE'), ResultPath: '$.small', Next: 'Done',
      },
      Big: {
        Type: 'Map', Label: 'Chunks',
        ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSON' }, Parameters: { 'Bucket.$': '$.plan.bucket', 'Key.$': '$.plan.key' } },
        MaxConcurrencyPath: '$.plan.max', ToleratedFailurePercentage: 0.0, ItemSelector: selector,
        ItemProcessor: processor('InChild', 'DISTRIBUTED'),
        ResultWriter: { Resource: 'arn:aws:states:::s3:putObject', Parameters: { 'Bucket.$': '$.plan.bucket', 'Prefix.$': '$.plan.prefix' } },
        ResultPath: '$.big',
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
        Next: 'Done',
      },
      Caught: { Type: 'Pass', End: true },
      Done: { Type: 'Succeed' },
    },
  });
}

test('a Distributed Map reads its items from S3, runs each as a child execution at most MaxConcurrency at once, and writes its results to S3', async () => {
  const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  objects.set('data/jobs/1/chunks.json', JSON.stringify(items));
  const m = await call('CreateStateMachine', { name: 'dist', definition: definition() });
  assert.ok(m.stateMachineArn, JSON.stringify(m));
  maxInFlight = 0;
  calls.length = 0;
  const started = await call('StartExecution', {
    stateMachineArn: m.stateMachineArn, name: 'run1',
    input: JSON.stringify({ run: 'r1', plan: { distributed: true, bucket: 'data', key: 'jobs/1/chunks.json', prefix: 'jobs/1/map', max: 2 } }),
  });
  const done = await finished(started.executionArn);
  assert.equal(done.status, 'SUCCEEDED', JSON.stringify(done));
  const out = JSON.parse(done.output);
  assert.match(out.big.MapRunArn, /^arn:aws:states:us-east-1:000000000000:mapRun:dist\/Chunks:[0-9a-f-]{36}$/);
  const runId = out.big.MapRunArn.split(':').pop();
  assert.deepEqual(out.big.ResultWriterDetails, { Bucket: 'data', Key: `jobs/1/map/${runId}/manifest.json` });
  assert.equal(maxInFlight, 2, 'MaxConcurrencyPath bounds the children at once');
  assert.deepEqual(calls.map((c) => c.input.item).sort(), items);
  assert.ok(calls.every((c) => c.input.run === 'r1' && c.input.index === items.indexOf(c.input.item)), 'ItemSelector sees $ and $$.Map.Item');

  const manifest = JSON.parse(objects.get(`data/jobs/1/map/${runId}/manifest.json`));
  assert.equal(manifest.DestinationBucket, 'data');
  assert.equal(manifest.MapRunArn, out.big.MapRunArn);
  assert.deepEqual(manifest.ResultFiles.FAILED, []);
  assert.deepEqual(manifest.ResultFiles.PENDING, []);
  assert.equal(manifest.ResultFiles.SUCCEEDED.length, 1);
  const file = manifest.ResultFiles.SUCCEEDED[0];
  assert.equal(file.Key, `jobs/1/map/${runId}/SUCCEEDED_0.json`);
  const results = JSON.parse(objects.get(`data/${file.Key}`));
  assert.equal(file.Size, Buffer.byteLength(objects.get(`data/${file.Key}`)));
  assert.equal(results.length, items.length);
  for (const r of results) {
    assert.equal(r.Status, 'SUCCEEDED');
    assert.match(r.ExecutionArn, /:execution:dist\/Chunks:/);
    assert.equal(JSON.parse(r.Output).done, JSON.parse(r.Input).item);
    assert.ok(r.StartDate && r.StopDate);
  }

  // The parent's history: the Map's own events, none per item.
  const types = (await history(started.executionArn)).map((e) => e.type);
  assert.deepEqual(types.filter((t) => t.startsWith('Map')), ['MapStateEntered', 'MapRunStarted', 'MapRunSucceeded', 'MapStateExited']);
  assert.ok(!types.includes('TaskStateEntered'));
  // Each child is an execution with its own history, listed by Map Run.
  const runs = await call('ListMapRuns', { executionArn: started.executionArn });
  assert.deepEqual(runs.mapRuns.map((r) => r.mapRunArn), [out.big.MapRunArn]);
  const run = await call('DescribeMapRun', { mapRunArn: out.big.MapRunArn });
  assert.equal(run.status, 'SUCCEEDED');
  assert.equal(run.maxConcurrency, 2);
  assert.deepEqual([run.itemCounts.total, run.itemCounts.succeeded, run.itemCounts.failed, run.itemCounts.resultsWritten], [7, 7, 0, 7]);
  const kids = await call('ListExecutions', { mapRunArn: out.big.MapRunArn });
  assert.equal(kids.executions.length, 7);
  const kid = (await history(kids.executions[0].executionArn)).map((e) => e.type);
  assert.deepEqual(kid, ['ExecutionStarted', 'TaskStateEntered', 'TaskStateExited', 'ExecutionSucceeded']);
  const parents = await call('ListExecutions', { stateMachineArn: m.stateMachineArn });
  assert.deepEqual(parents.executions.map((e) => e.name), ['run1'], 'children are not the machine\'s executions');

  // The Choice's other branch: the inline Map over the same task.
  const inline = await call('StartExecution', {
    stateMachineArn: m.stateMachineArn, input: JSON.stringify({ run: 'r2', plan: { distributed: false, items: ['x', 'y'], max: 1 } }),
  });
  const small = await finished(inline.executionArn);
  assert.equal(small.status, 'SUCCEEDED');
  assert.deepEqual(JSON.parse(small.output).small.map((r) => r.done), ['x', 'y']);
});

test('a child that fails fails the Map with States.ExceedToleratedFailureThreshold; the rest stop or never start; a missing item source is States.ItemReaderFailed', async () => {
  const items = ['a', 'bad', ...Array.from({ length: 20 }, (_, i) => `n${i}`)];
  objects.set('data/jobs/2/chunks.json', JSON.stringify(items));
  const m = await call('CreateStateMachine', { name: 'dist2', definition: definition() });
  calls.length = 0;
  const started = await call('StartExecution', {
    stateMachineArn: m.stateMachineArn,
    input: JSON.stringify({ run: 'r3', plan: { distributed: true, bucket: 'data', key: 'jobs/2/chunks.json', prefix: 'jobs/2/map/', max: 2 } }),
  });
  const done = await finished(started.executionArn);
  assert.equal(done.status, 'SUCCEEDED', 'the Catch took it');
  const out = JSON.parse(done.output);
  assert.equal(out.error.Error, 'States.ExceedToleratedFailureThreshold');
  assert.match(out.error.Cause, /Bulk\.Invalid: bad item/);
  assert.ok(calls.filter((c) => c.name === 'work').length < items.length, 'no child starts after the threshold is exceeded');
  const types = (await history(started.executionArn)).map((e) => e.type);
  assert.ok(types.includes('MapRunFailed'));
  const [run] = (await call('ListMapRuns', { executionArn: started.executionArn })).mapRuns;
  const d = await call('DescribeMapRun', { mapRunArn: run.mapRunArn });
  assert.equal(d.status, 'FAILED');
  assert.equal(d.itemCounts.failed, 1);
  // The results of what ran, and what never started, are in S3 all the same.
  const runId = run.mapRunArn.split(':').pop();
  const manifest = JSON.parse(objects.get(`data/jobs/2/map/${runId}/manifest.json`));
  assert.equal(manifest.ResultFiles.FAILED.length, 1);
  const failed = JSON.parse(objects.get(`data/${manifest.ResultFiles.FAILED[0].Key}`));
  assert.ok(failed.some((r) => r.Status === 'FAILED' && r.Error === 'Bulk.Invalid'));
  assert.equal(manifest.ResultFiles.PENDING.length, 1);

  const missing = await call('StartExecution', {
    stateMachineArn: m.stateMachineArn,
    input: JSON.stringify({ run: 'r4', plan: { distributed: true, bucket: 'data', key: 'jobs/none.json', prefix: 'p', max: 2 } }),
  });
  const gone = JSON.parse((await finished(missing.executionArn)).output);
  assert.equal(gone.error.Error, 'States.ItemReaderFailed');
  assert.match(gone.error.Cause, /HTTP 404/);
});

test('fields the local server cannot run are refused at CreateStateMachine', async () => {
  const def = JSON.parse(definition());
  def.States.Big.ItemBatcher = { MaxItemsPerBatch: 10 };
  const r = await call('CreateStateMachine', { name: 'batched', definition: JSON.stringify(def) });
  assert.equal(r.__type, 'InvalidDefinition');
  assert.match(r.message, /ItemBatcher/);
});
