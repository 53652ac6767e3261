// Local Step Functions API server for the bulkops local stack.
//
// It speaks the AWS JSON 1.0 protocol of Step Functions (POST / with
// X-Amz-Target: AWSStepFunctions.<Operation>) for the operations the
// project and its tests use, and executes state machines with the npm
// package aws-local-stepfunctions, which runs the real ASL definitions.
// Task states call Lambda through the standard Invoke API; the AWS SDK
// inside the interpreter takes the endpoint from AWS_ENDPOINT_URL_LAMBDA
// and credentials from the environment, like every other client here.
//
// Usage: node server.mjs [--host 127.0.0.1] [--port 8083]
// Logs one JSON line per request and per finished execution on stdout.
//
// Like Step Functions with EventBridge, every execution status change
// (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED) is sent as a
// "Step Functions Execution Status Change" event (source aws.states) to the
// PutEvents API at AWS_ENDPOINT_URL_EVENTBRIDGE (the dev server, which
// routes it to the template's rules). The state machine's TimeoutSeconds
// ends an execution as TIMED_OUT, StopExecution as ABORTED, and an
// execution whose history reaches BULKOPS_SFN_MAX_HISTORY events (25,000
// as on AWS) fails. GetExecutionHistory returns AWS-shaped events
// (TaskStateExited with stateExitedEventDetails, ...), paged.
//
// Distributed Maps (ItemReader, ResultWriter, ProcessorConfig DISTRIBUTED)
// run too, though the interpreter has no code for them: see
// distributed.mjs. Each child execution is an execution of its own here
// (DescribeExecution, GetExecutionHistory, ListExecutions with mapRunArn;
// DescribeMapRun and ListMapRuns describe the Map Run); children send no
// EventBridge status changes.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  StateMachine,
  ExecutionError,
  ExecutionAbortedError,
  ExecutionTimeoutError,
} from 'aws-local-stepfunctions';
import { rewrite, runDistributedMap } from './distributed.mjs';

const REGION = process.env.AWS_REGION || 'us-east-1';
const ACCOUNT = process.env.BULKOPS_ACCOUNT || '000000000000';

/** A protocol error: sent as {"__type": type, "message": message}. */
class ApiError extends Error {
  constructor(type, message, status = 400) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

const now = () => Date.now() / 1000;
const smArn = (name) => `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`;
const execArn = (smName, name) => `arn:aws:states:${REGION}:${ACCOUNT}:execution:${smName}:${name}`;
const NAME_RE = /^[A-Za-z0-9_-]{1,80}$/;

function log(fields) {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...fields }) + '\n');
}

/** Parses and validates a definition the way CreateStateMachine does. */
function compile(definition) {
  let parsed;
  try {
    parsed = JSON.parse(definition);
  } catch (err) {
    throw new ApiError('InvalidDefinition', `Invalid State Machine Definition: not JSON: ${err.message}`);
  }
  let runnable;
  try {
    new StateMachine(parsed); // validates the definition
    runnable = rewrite(parsed); // what the interpreter runs (distributed.mjs)
  } catch (err) {
    throw new ApiError('InvalidDefinition', `Invalid State Machine Definition: ${err.message}`);
  }
  return { parsed, definitionRun: runnable.definition, maps: runnable.maps };
}

/** Turns an execution failure into Step Functions' error and cause. */
export function failureOf(err) {
  if (err instanceof ExecutionAbortedError) return { status: 'ABORTED' };
  if (err instanceof ExecutionTimeoutError) return { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'execution timed out' };
  if (err instanceof ExecutionError && err.cause) {
    const c = err.cause;
    return { status: 'FAILED', error: c.name || 'States.Runtime', cause: c.message || '' };
  }
  return { status: 'FAILED', error: 'States.Runtime', cause: String(err && err.message ? err.message : err) };
}

/**
 * The history events of an execution, in AWS's shapes. distributed names
 * the Distributed Map states (run as local Tasks): their events are the
 * Map's, and their failure is the MapRunFailed event the Map Run adds.
 */
export function historyEvent(ev, distributed = new Set()) {
  const ts = ev.timestamp ? ev.timestamp / 1000 : now();
  const json = (v) => JSON.stringify(v ?? null);
  let st = ev.state || ev.parentState;
  if (st && !ev.parentState && distributed.has(st.name)) {
    if (ev.type === 'StateFailed') return null;
    st = { ...st, type: 'Map' };
  }
  switch (ev.type) {
    case 'ExecutionStarted':
      return { timestamp: ts, type: 'ExecutionStarted', executionStartedEventDetails: { input: json(ev.input), inputDetails: { truncated: false } } };
    case 'ExecutionSucceeded':
      return { timestamp: ts, type: 'ExecutionSucceeded', executionSucceededEventDetails: { output: json(ev.output), outputDetails: { truncated: false } } };
    case 'ExecutionFailed':
      return { timestamp: ts, type: 'ExecutionFailed', executionFailedEventDetails: { error: ev.Error, cause: String(ev.Cause ?? '') } };
    case 'ExecutionAborted':
      return { timestamp: ts, type: 'ExecutionAborted', executionAbortedEventDetails: {} };
    case 'ExecutionTimeout':
      return { timestamp: ts, type: 'ExecutionTimedOut', executionTimedOutEventDetails: { error: 'States.Timeout' } };
    case 'StateEntered':
      return { timestamp: ts, type: `${st.type}StateEntered`, stateEnteredEventDetails: { name: st.name, input: json(st.input), inputDetails: { truncated: false } } };
    case 'StateExited':
      return { timestamp: ts, type: `${st.type}StateExited`, stateExitedEventDetails: { name: st.name, output: json(st.output), outputDetails: { truncated: false } } };
    case 'StateFailed':
      if (st.type === 'Task') return { timestamp: ts, type: 'LambdaFunctionFailed', lambdaFunctionFailedEventDetails: { error: ev.Error, cause: String(ev.Cause ?? '') } };
      return { timestamp: ts, type: `${st.type}StateFailed`, stateFailedEventDetails: { name: st.name, error: ev.Error, cause: String(ev.Cause ?? '') } };
    case 'MapIterationStarted':
      return { timestamp: ts, type: 'MapIterationStarted', mapIterationStartedEventDetails: { name: st.name, index: ev.index } };
    case 'MapIterationSucceeded':
      return { timestamp: ts, type: 'MapIterationSucceeded', mapIterationSucceededEventDetails: { name: st.name, index: ev.index } };
    case 'MapIterationFailed':
      return { timestamp: ts, type: 'MapIterationFailed', mapIterationFailedEventDetails: { name: st.name, index: ev.index } };
    default:
      return null; // StateRetried, StateCaught: AWS has no event of their own
  }
}

/** The detail of a "Step Functions Execution Status Change" event. */
export function statusChangeDetail(e) {
  const ms = (s) => (s ? Math.round(s * 1000) : null);
  return {
    executionArn: e.arn, stateMachineArn: e.stateMachineArn, name: e.name, status: e.status,
    startDate: ms(e.startDate), stopDate: ms(e.stopDate),
    input: e.input, output: e.output ?? null,
    inputDetails: { included: true }, outputDetails: e.output !== undefined ? { included: true } : null,
    error: e.error ?? null, cause: e.cause ?? null,
    redriveCount: 0, redriveStatus: 'NOT_REDRIVABLE',
  };
}

/**
 * Sends an execution's status change to EventBridge's PutEvents API at
 * AWS_ENDPOINT_URL_EVENTBRIDGE; without it, nothing is sent. Failures are
 * logged (EventBridge delivery is best effort from the execution's view).
 */
async function putStatusChange(e) {
  const base = process.env.AWS_ENDPOINT_URL_EVENTBRIDGE;
  if (!base) return;
  const entry = {
    Source: 'aws.states', DetailType: 'Step Functions Execution Status Change', EventBusName: 'default',
    Resources: [e.arn], Detail: JSON.stringify(statusChangeDetail(e)),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(base.replace(/\/$/, '') + '/', {
        method: 'POST',
        headers: { 'X-Amz-Target': 'AWSEvents.PutEvents', 'Content-Type': 'application/x-amz-json-1.1' },
        body: JSON.stringify({ Entries: [entry] }),
      });
      const body = await res.json().catch(() => ({}));
      if (res.ok && !body.FailedEntryCount) return;
      throw new Error(`PutEvents answered ${res.status} ${JSON.stringify(body)}`);
    } catch (err) {
      if (attempt >= 5) {
        log({ msg: 'status change event not delivered', executionArn: e.arn, status: e.status, error: String(err && err.message) });
        return;
      }
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
  }
}

export function createServer({ maxHistory = Number(process.env.BULKOPS_SFN_MAX_HISTORY || 25000) } = {}) {
  const machines = new Map(); // arn -> {name, arn, definition, parsed, type, roleArn, creationDate}
  const executions = new Map(); // arn -> execution record

  function machine(arn) {
    const m = machines.get(arn);
    if (!m) throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return m;
  }
  function execution(arn) {
    const e = executions.get(arn);
    if (!e) throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return e;
  }
  /** Ends an execution once (the first outcome wins) and announces it. */
  function finish(e, f) {
    if (e.status !== 'RUNNING') return;
    e.status = f.status;
    if (f.output !== undefined) e.output = f.output;
    if (f.error) e.error = f.error;
    if (f.cause !== undefined && f.cause !== null) e.cause = f.cause;
    e.stopDate = now();
    log({ msg: 'execution finished', executionArn: e.arn, status: e.status, error: e.error, cause: e.cause });
    emit(e);
  }
  /** Queues the execution's current status for EventBridge, in order. */
  function emit(e) {
    if (e.child) return; // a Map Run's child: no EventBridge event here
    const snapshot = { ...e };
    e.emitted = e.emitted.then(() => putStatusChange(snapshot));
  }
  function describeExecution(e) {
    const out = {
      executionArn: e.arn, stateMachineArn: e.stateMachineArn, name: e.name, status: e.status,
      startDate: e.startDate, input: e.input, inputDetails: { included: true },
    };
    if (e.stopDate) out.stopDate = e.stopDate;
    if (e.output !== undefined) { out.output = e.output; out.outputDetails = { included: true }; }
    if (e.error) out.error = e.error;
    if (e.cause !== undefined) out.cause = e.cause;
    return out;
  }

  const mapRuns = new Map(); // Map Run ARN -> the Map Run (distributed.mjs)

  /**
   * Runs definition (as rewritten by distributed.mjs) for execution record
   * e: collects its history (failing it at maxHistory events), ends it
   * with the run's outcome, and runs its Distributed Map states. Returns a
   * promise settled when the run ended.
   */
  function launch(e, definition, maps, input, context) {
    const handlers = {};
    for (const [name, st] of maps) {
      handlers[name] = (stateInput) => runDistributedMap({ name, st, input: stateInput, parent: e, ctx: context, host });
    }
    const distributed = new Set(maps.keys());
    const sm = new StateMachine(definition, { validationOptions: { noValidate: true } });
    const run = sm.run(input, { context, overrides: { taskResourceLocalHandlers: handlers } });
    e.children = [];
    e.mapEntered = new Set();
    e.deferred = new Map();
    e.abort = () => {
      run.abort();
      for (const c of e.children) host.stopChild(c);
    };
    (async () => {
      try {
        for await (const ev of run.eventLogs) {
          const h = historyEvent(ev, distributed);
          if (h) e.history.push(h);
          // A Map Run's own events (host.event) follow its MapStateEntered,
          // which this loop may see after the Map Run started.
          const st = ev.state;
          if (st && !ev.parentState && distributed.has(st.name)) {
            if (ev.type === 'StateEntered') {
              e.mapEntered.add(st.name);
              e.history.push(...(e.deferred.get(st.name) || []));
              e.deferred.delete(st.name);
            } else if (ev.type === 'StateExited') {
              e.mapEntered.delete(st.name);
            }
          }
          if (e.history.length >= maxHistory && e.status === 'RUNNING') {
            finish(e, {
              status: 'FAILED', error: 'States.Runtime',
              cause: `The execution reached the maximum number of events in its history (${maxHistory}).`,
            });
            try { e.abort(); } catch { /* finished meanwhile */ }
          }
        }
      } catch {
        // the result promise reports the failure
      }
    })();
    return run.result.then(
      (out) => finish(e, { status: 'SUCCEEDED', output: JSON.stringify(out ?? null) }),
      (err) => {
        finish(e, failureOf(err));
        for (const c of e.children) host.stopChild(c); // a timed-out parent's children stop with it
      },
    );
  }

  /** The server's part of a Map Run (distributed.mjs). */
  const host = {
    startChild(parent, spec) {
      const arn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${spec.stateMachineName}:${spec.name}`;
      const c = {
        arn, name: spec.name, stateMachineArn: spec.stateMachineArn, mapRunArn: spec.runArn, status: 'RUNNING',
        input: JSON.stringify(spec.input ?? null), startDate: now(), history: [], emitted: Promise.resolve(), child: true,
      };
      executions.set(arn, c);
      parent.children.push(c);
      const result = launch(c, spec.definition, new Map(), spec.input, {
        Execution: { Id: arn, Name: spec.name, Input: spec.input, StartTime: new Date(c.startDate * 1000).toISOString(), RoleArn: parent.roleArn },
        StateMachine: { Id: spec.stateMachineArn, Name: spec.stateMachineName },
      });
      return { record: c, result };
    },
    stopChild(c) {
      if (c.status !== 'RUNNING') return;
      finish(c, { status: 'ABORTED' });
      try { c.abort(); } catch { /* finished meanwhile */ }
    },
    mapRun(r) { mapRuns.set(r.mapRunArn, r); },
    event(parent, state, h) {
      const ev = { timestamp: now(), ...h };
      if (parent.mapEntered.has(state)) parent.history.push(ev);
      else parent.deferred.set(state, [...(parent.deferred.get(state) || []), ev]);
    },
  };
  function mapRun(arn) {
    const r = mapRuns.get(arn);
    if (!r) throw new ApiError('ResourceNotFound', `Map Run Does Not Exist: '${arn}'`);
    return r;
  }

  const ops = {
    CreateStateMachine(req) {
      const { name, definition } = req;
      if (!name || !NAME_RE.test(name)) throw new ApiError('InvalidName', `Invalid Name: '${name}'`);
      const arn = smArn(name);
      if (machines.has(arn)) {
        if (machines.get(arn).definition === definition) {
          return { stateMachineArn: arn, creationDate: machines.get(arn).creationDate };
        }
        throw new ApiError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
      }
      const m = { name, arn, definition, ...compile(definition), type: req.type || 'STANDARD', roleArn: req.roleArn || '', creationDate: now() };
      machines.set(arn, m);
      return { stateMachineArn: arn, creationDate: m.creationDate };
    },
    UpdateStateMachine(req) {
      const m = machine(req.stateMachineArn);
      if (req.definition !== undefined) {
        Object.assign(m, compile(req.definition));
        m.definition = req.definition;
      }
      if (req.roleArn) m.roleArn = req.roleArn;
      return { updateDate: now() };
    },
    DescribeStateMachine(req) {
      const m = machine(req.stateMachineArn);
      return {
        stateMachineArn: m.arn, name: m.name, status: 'ACTIVE', definition: m.definition,
        roleArn: m.roleArn, type: m.type, creationDate: m.creationDate,
      };
    },
    ListStateMachines() {
      return {
        stateMachines: [...machines.values()].map((m) => ({
          stateMachineArn: m.arn, name: m.name, type: m.type, creationDate: m.creationDate,
        })),
      };
    },
    DeleteStateMachine(req) {
      machines.delete(req.stateMachineArn);
      return {};
    },
    StartExecution(req) {
      const m = machine(req.stateMachineArn);
      const name = req.name || randomUUID();
      if (!NAME_RE.test(name)) throw new ApiError('InvalidName', `Invalid Name: '${name}'`);
      const arn = execArn(m.name, name);
      const inputText = req.input === undefined ? '{}' : req.input;
      if (executions.has(arn)) {
        const prev = executions.get(arn);
        if (prev.input === inputText && prev.status === 'RUNNING') {
          return { executionArn: arn, startDate: prev.startDate };
        }
        throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
      }
      let input;
      try {
        input = JSON.parse(inputText);
      } catch (err) {
        throw new ApiError('InvalidExecutionInput', `Invalid execution input: ${err.message}`);
      }
      const e = {
        arn, name, stateMachineArn: m.arn, roleArn: m.roleArn, status: 'RUNNING', input: inputText, startDate: now(), history: [],
        emitted: Promise.resolve(),
      };
      executions.set(arn, e);
      emit(e);
      launch(e, m.definitionRun, m.maps, input, {
        Execution: { Id: arn, Name: name, Input: input, StartTime: new Date(e.startDate * 1000).toISOString(), RoleArn: m.roleArn },
        StateMachine: { Id: m.arn, Name: m.name },
      });
      return { executionArn: arn, startDate: e.startDate };
    },
    DescribeExecution(req) {
      return describeExecution(execution(req.executionArn));
    },
    ListExecutions(req) {
      if (req.mapRunArn) mapRun(req.mapRunArn);
      else machine(req.stateMachineArn);
      const list = [...executions.values()]
        .filter((e) => (req.mapRunArn ? e.mapRunArn === req.mapRunArn : e.stateMachineArn === req.stateMachineArn && !e.child))
        .filter((e) => !req.statusFilter || e.status === req.statusFilter)
        .sort((a, b) => b.startDate - a.startDate)
        .slice(0, req.maxResults || 1000);
      return {
        executions: list.map((e) => {
          const d = { executionArn: e.arn, stateMachineArn: e.stateMachineArn, name: e.name, status: e.status, startDate: e.startDate };
          if (e.stopDate) d.stopDate = e.stopDate;
          return d;
        }),
      };
    },
    DescribeMapRun(req) {
      const r = mapRun(req.mapRunArn);
      const out = {
        mapRunArn: r.mapRunArn, executionArn: r.executionArn, status: r.status, startDate: r.startDate,
        maxConcurrency: r.maxConcurrency ?? 0, toleratedFailurePercentage: r.toleratedFailurePercentage,
        toleratedFailureCount: r.toleratedFailureCount, itemCounts: { ...r.counts }, executionCounts: { ...r.counts },
        redriveCount: 0,
      };
      if (r.stopDate) out.stopDate = r.stopDate;
      return out;
    },
    ListMapRuns(req) {
      execution(req.executionArn);
      return {
        mapRuns: [...mapRuns.values()].filter((r) => r.executionArn === req.executionArn).map((r) => ({
          mapRunArn: r.mapRunArn, executionArn: r.executionArn, stateMachineArn: r.mapRunArn.replace(':mapRun:', ':stateMachine:').replace(/:[^:]+$/, ''),
          startDate: r.startDate, ...(r.stopDate ? { stopDate: r.stopDate } : {}),
        })),
      };
    },
    StopExecution(req) {
      const e = execution(req.executionArn);
      if (e.status === 'RUNNING') {
        finish(e, { status: 'ABORTED', error: req.error, cause: req.cause });
        try { e.abort(); } catch { /* already finished */ }
      }
      return { stopDate: e.stopDate };
    },
    GetExecutionHistory(req) {
      const e = execution(req.executionArn);
      let events = e.history.map((h, i) => ({ ...h, id: i + 1, previousEventId: i }));
      if (req.includeExecutionData === false) {
        events = events.map((h) => JSON.parse(JSON.stringify(h, (k, v) => (k === 'input' || k === 'output' ? undefined : v))));
      }
      if (req.reverseOrder) events.reverse();
      const max = Math.min(Math.max(Number(req.maxResults) || 100, 1), 1000);
      const from = req.nextToken ? Number(req.nextToken) : 0;
      if (!Number.isInteger(from) || from < 0) throw new ApiError('InvalidToken', `Invalid Token: '${req.nextToken}'`);
      const page = { events: events.slice(from, from + max) };
      if (from + max < events.length) page.nextToken = String(from + max);
      return page;
    },
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const target = req.headers['x-amz-target'] || '';
      const op = target.startsWith('AWSStepFunctions.') ? target.slice('AWSStepFunctions.'.length) : '';
      let status = 200;
      let body;
      try {
        if (req.method === 'GET' && req.url === '/health') {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.end('ok\n');
          return;
        }
        if (req.method !== 'POST' || !ops[op]) {
          throw new ApiError('UnknownOperationException', `unsupported operation ${target || req.method + ' ' + req.url}`);
        }
        const text = Buffer.concat(chunks).toString('utf8');
        const input = text ? JSON.parse(text) : {};
        body = ops[op](input);
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError('InternalFailure', String(err && err.message), 500);
        status = e.status;
        body = { __type: e.type, message: e.message };
        res.setHeader('X-Amzn-ErrorType', e.type);
      }
      log({ msg: 'request', op, status });
      res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify(body));
    });
  });
  return server;
}

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const host = arg('--host', '127.0.0.1');
  const port = Number(arg('--port', process.env.BULKOPS_SFN_PORT || '8083'));
  const server = createServer();
  server.listen(port, host, () => log({ msg: 'listening', host, port }));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
