// Tests of the local Step Functions API server: node --test (see test.sh).
// A tiny Lambda Invoke endpoint stands in for the dev server here; these
// tests check the Step Functions server, not AWS code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

let lambda;
let bus;
let sfn;
const busEvents = [];
let sfnURL;
const calls = {};

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

before(async () => {
  // Fake Lambda: "flaky" fails with Bulk.Transient on its first call,
  // "broken" always fails with Bulk.Invalid, anything else echoes.
  lambda = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const fn = decodeURIComponent(req.url.split('/')[3]);
      const name = fn.slice(fn.lastIndexOf(':') + 1);
      calls[name] = (calls[name] || 0) + 1;
      const input = JSON.parse(Buffer.concat(chunks).toString() || 'null');
      if (name === 'broken' || (name === 'flaky' && calls[name] === 1)) {
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Amz-Function-Error': 'Unhandled' });
        res.end(JSON.stringify({ errorType: name === 'broken' ? 'Bulk.Invalid' : 'Bulk.Transient', errorMessage: `${name} says no` }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ echoed: input, by: name }));
    });
  });
  const lport = await listen(lambda);
  // Fake EventBridge PutEvents: records the entries.
  bus = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      assert.equal(req.headers['x-amz-target'], 'AWSEvents.PutEvents');
      const body = JSON.parse(Buffer.concat(chunks).toString());
      busEvents.push(...body.Entries);
      res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ FailedEntryCount: 0, Entries: body.Entries.map((_, i) => ({ EventId: `e${i}` })) }));
    });
  });
  process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = `http://127.0.0.1:${await listen(bus)}`;
  process.env.AWS_ENDPOINT_URL_LAMBDA = `http://127.0.0.1:${lport}`;
  process.env.AWS_ACCESS_KEY_ID ||= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ||= 'localsecret';
  process.env.AWS_REGION ||= 'us-east-1';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const { createServer } = await import('./server.mjs');
  sfn = createServer({ maxHistory: 40 });
  sfnURL = `http://127.0.0.1:${await listen(sfn)}/`;
});

after(() => {
  sfn.close();
  lambda.close();
  bus.close();
});

/** The status change events sent for one execution, once `want` of them arrived. */
async function statusEvents(executionArn, want) {
  for (let i = 0; i < 200; i++) {
    const got = busEvents
      .filter((e) => e.Source === 'aws.states' && e.DetailType === 'Step Functions Execution Status Change')
      .map((e) => ({ ...e, detail: JSON.parse(e.Detail) }))
      .filter((e) => e.detail.executionArn === executionArn);
    if (got.length >= want) return got;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`fewer than ${want} status change events for ${executionArn}`);
}

async function call(op, body) {
  const res = await fetch(sfnURL, {
    method: 'POST',
    headers: { 'X-Amz-Target': `AWSStepFunctions.${op}`, 'Content-Type': 'application/x-amz-json-1.0' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function finished(executionArn) {
  for (let i = 0; i < 200; i++) {
    const { body } = await call('DescribeExecution', { executionArn });
    if (body.status !== 'RUNNING') return body;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('execution did not finish');
}

const fn = (name) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

function definition(resource) {
  return JSON.stringify({
    StartAt: 'Work',
    States: {
      Work: {
        Type: 'Task', Resource: resource, Parameters: { 'value.$': '$.value' }, ResultPath: '$.result',
        Retry: [{ ErrorEquals: ['Bulk.Transient'], IntervalSeconds: 1, BackoffRate: 1, MaxAttempts: 2 }],
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Failed' }],
        Next: 'Fan',
      },
      Fan: {
        Type: 'Map', ItemsPath: '$.items', MaxConcurrency: 2,
        ItemSelector: { 'item.$': '$$.Map.Item.Value', 'value.$': '$.value' },
        ItemProcessor: { StartAt: 'Each', States: { Each: { Type: 'Task', Resource: fn('echo'), End: true } } },
        ResultPath: '$.fanned', End: true,
      },
      Failed: { Type: 'Fail', Error: 'Job.Failed', Cause: 'caught' },
    },
  });
}

test('create, start, describe: Lambda tasks, Map and Retry', async () => {
  const created = await call('CreateStateMachine', { name: 'flow', definition: definition(fn('flaky')), roleArn: 'arn:aws:iam::000000000000:role/x' });
  assert.equal(created.status, 200);
  assert.match(created.body.stateMachineArn, /:stateMachine:flow$/);
  const again = await call('CreateStateMachine', { name: 'flow', definition: definition(fn('echo')) });
  assert.equal(again.body.__type, 'StateMachineAlreadyExists');

  const started = await call('StartExecution', { stateMachineArn: created.body.stateMachineArn, name: 'run1', input: JSON.stringify({ value: 7, items: [1, 2, 3] }) });
  assert.equal(started.status, 200);
  const done = await finished(started.body.executionArn);
  assert.equal(done.status, 'SUCCEEDED', JSON.stringify(done));
  const out = JSON.parse(done.output);
  assert.deepEqual(out.result, { echoed: { value: 7 }, by: 'flaky' });
  assert.deepEqual(out.fanned.map((r) => r.echoed.item), [1, 2, 3]);
  assert.equal(calls.flaky, 2, 'the transient error is retried once');

  const dup = await call('StartExecution', { stateMachineArn: created.body.stateMachineArn, name: 'run1', input: '{}' });
  assert.equal(dup.body.__type, 'ExecutionAlreadyExists');
  const list = await call('ListExecutions', { stateMachineArn: created.body.stateMachineArn, statusFilter: 'SUCCEEDED' });
  assert.equal(list.body.executions.length, 1);
  const hist = await call('GetExecutionHistory', { executionArn: started.body.executionArn });
  assert.ok(hist.body.events.length > 3);
});

test('Catch sees the Lambda errorType as the error name and the message in the cause', async () => {
  const created = await call('CreateStateMachine', { name: 'broken', definition: definition(fn('broken')) });
  const started = await call('StartExecution', { stateMachineArn: created.body.stateMachineArn, input: JSON.stringify({ value: 1, items: [] }) });
  const done = await finished(started.body.executionArn);
  assert.equal(done.status, 'FAILED');
  assert.equal(done.error, 'Job.Failed');
  assert.equal(done.cause, 'caught');
  assert.equal(calls.broken, 1, 'Bulk.Invalid is not retried');
});

test('update, invalid definitions, stop, unknown operations', async () => {
  const bad = await call('CreateStateMachine', { name: 'bad', definition: '{"StartAt":"X","States":{}}' });
  assert.equal(bad.body.__type, 'InvalidDefinition');
  const waitDef = JSON.stringify({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 30, End: true } } });
  const created = await call('CreateStateMachine', { name: 'waits', definition: waitDef });
  const upd = await call('UpdateStateMachine', { stateMachineArn: created.body.stateMachineArn, definition: waitDef });
  assert.equal(upd.status, 200);
  const started = await call('StartExecution', { stateMachineArn: created.body.stateMachineArn });
  const running = await call('DescribeExecution', { executionArn: started.body.executionArn });
  assert.equal(running.body.status, 'RUNNING', 'Wait states really wait');
  await call('StopExecution', { executionArn: started.body.executionArn });
  const stopped = await call('DescribeExecution', { executionArn: started.body.executionArn });
  assert.equal(stopped.body.status, 'ABORTED');
  const missing = await call('DescribeExecution', { executionArn: 'arn:aws:states:us-east-1:000000000000:execution:x:y' });
  assert.equal(missing.body.__type, 'ExecutionDoesNotExist');
  const unknown = await call('TagResource', {});
  assert.equal(unknown.body.__type, 'UnknownOperationException');
});

test('every status change goes to EventBridge as AWS sends it', async () => {
  const created = await call('CreateStateMachine', { name: 'events', definition: definition(fn('echo')) });
  const started = await call('StartExecution', { stateMachineArn: created.body.stateMachineArn, name: 'ev1', input: JSON.stringify({ value: 2, items: [1] }) });
  await finished(started.body.executionArn);
  const evs = await statusEvents(started.body.executionArn, 2);
  assert.deepEqual(evs.map((e) => e.detail.status), ['RUNNING', 'SUCCEEDED']);
  const done = evs[1];
  assert.deepEqual(done.Resources, [started.body.executionArn]);
  assert.equal(done.detail.stateMachineArn, created.body.stateMachineArn);
  assert.equal(done.detail.name, 'ev1');
  assert.equal(typeof done.detail.startDate, 'number');
  assert.ok(done.detail.stopDate >= done.detail.startDate);
  assert.equal(JSON.parse(done.detail.input).value, 2);
  assert.equal(JSON.parse(done.detail.output).result.by, 'echo');
  assert.equal(done.detail.error, null);
  assert.equal(evs[0].detail.stopDate, null);

  const broken = await call('CreateStateMachine', { name: 'uncaught', definition: JSON.stringify({ StartAt: 'T', States: { T: { Type: 'Task', Resource: fn('broken'), End: true } } }) });
  const b = await call('StartExecution', { stateMachineArn: broken.body.stateMachineArn, input: '{}' });
  const failed = (await statusEvents(b.body.executionArn, 2))[1].detail;
  assert.equal(failed.status, 'FAILED');
  assert.equal(failed.error, 'Bulk.Invalid');
  assert.match(failed.cause, /broken says no/);
});

test('TimeoutSeconds times the execution out, StopExecution aborts it; both are announced', async () => {
  const slow = JSON.stringify({ StartAt: 'W', TimeoutSeconds: 1, States: { W: { Type: 'Wait', Seconds: 30, End: true } } });
  const created = await call('CreateStateMachine', { name: 'slow', definition: slow });
  const started = await call('StartExecution', { stateMachineArn: created.body.stateMachineArn, input: '{}' });
  const timedOut = (await statusEvents(started.body.executionArn, 2))[1].detail;
  assert.equal(timedOut.status, 'TIMED_OUT');
  assert.equal(timedOut.error, 'States.Timeout');
  assert.equal((await call('DescribeExecution', { executionArn: started.body.executionArn })).body.status, 'TIMED_OUT');

  const waits = await call('CreateStateMachine', { name: 'slow2', definition: JSON.stringify({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 30, End: true } } }) });
  const s2 = await call('StartExecution', { stateMachineArn: waits.body.stateMachineArn, input: '{}' });
  await call('StopExecution', { executionArn: s2.body.executionArn, error: 'Ops.Stop', cause: 'stopped by hand' });
  const aborted = (await statusEvents(s2.body.executionArn, 2))[1].detail;
  assert.equal(aborted.status, 'ABORTED');
  assert.equal(aborted.error, 'Ops.Stop');
  assert.equal(aborted.cause, 'stopped by hand');
});

test('history: AWS event types with state outputs, paged; too long a history fails the execution', async () => {
  const created = await call('CreateStateMachine', { name: 'hist', definition: definition(fn('echo')) });
  const started = await call('StartExecution', { stateMachineArn: created.body.stateMachineArn, input: JSON.stringify({ value: 3, items: [1, 2] }) });
  await finished(started.body.executionArn);
  const first = await call('GetExecutionHistory', { executionArn: started.body.executionArn, maxResults: 3 });
  assert.equal(first.body.events.length, 3);
  assert.equal(first.body.events[0].type, 'ExecutionStarted');
  assert.ok(first.body.nextToken);
  let all = [...first.body.events];
  for (let token = first.body.nextToken; token;) {
    const page = await call('GetExecutionHistory', { executionArn: started.body.executionArn, maxResults: 3, nextToken: token });
    all = all.concat(page.body.events);
    token = page.body.nextToken;
  }
  assert.deepEqual(all.map((e) => e.id), all.map((_, i) => i + 1));
  const exited = all.find((e) => e.type === 'TaskStateExited' && e.stateExitedEventDetails.name === 'Work');
  assert.equal(JSON.parse(exited.stateExitedEventDetails.output).result.by, 'echo');

  // 60 Pass states make more than the server's limit of 40 events.
  const states = {};
  for (let i = 0; i < 60; i++) states[`P${i}`] = i < 59 ? { Type: 'Pass', Next: `P${i + 1}` } : { Type: 'Wait', Seconds: 5, End: true };
  const long = await call('CreateStateMachine', { name: 'long', definition: JSON.stringify({ StartAt: 'P0', States: states }) });
  const l = await call('StartExecution', { stateMachineArn: long.body.stateMachineArn, input: '{}' });
  const over = (await statusEvents(l.body.executionArn, 2))[1].detail;
  assert.equal(over.status, 'FAILED');
  assert.equal(over.error, 'States.Runtime');
  assert.match(over.cause, /maximum number of events/);
});
