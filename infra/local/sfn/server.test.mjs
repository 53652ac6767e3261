// Tests of the local Step Functions API server: node --test (see test.sh).
// A tiny Lambda Invoke endpoint stands in for the dev server here; these
// tests check the Step Functions server, not AWS code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

let lambda;
let sfn;
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
  process.env.AWS_ENDPOINT_URL_LAMBDA = `http://127.0.0.1:${lport}`;
  process.env.AWS_ACCESS_KEY_ID ||= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ||= 'localsecret';
  process.env.AWS_REGION ||= 'us-east-1';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const { createServer } = await import('./server.mjs');
  sfn = createServer();
  sfnURL = `http://127.0.0.1:${await listen(sfn)}/`;
});

after(() => {
  sfn.close();
  lambda.close();
});

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
