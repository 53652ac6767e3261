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
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  StateMachine,
  ExecutionError,
  ExecutionAbortedError,
  ExecutionTimeoutError,
} from 'aws-local-stepfunctions';

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
  try {
    new StateMachine(parsed); // validates the definition
  } catch (err) {
    throw new ApiError('InvalidDefinition', `Invalid State Machine Definition: ${err.message}`);
  }
  return parsed;
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

export function createServer() {
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
      const parsed = compile(definition);
      const m = { name, arn, definition, parsed, type: req.type || 'STANDARD', roleArn: req.roleArn || '', creationDate: now() };
      machines.set(arn, m);
      return { stateMachineArn: arn, creationDate: m.creationDate };
    },
    UpdateStateMachine(req) {
      const m = machine(req.stateMachineArn);
      if (req.definition !== undefined) {
        m.parsed = compile(req.definition);
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
        arn, name, stateMachineArn: m.arn, status: 'RUNNING', input: inputText, startDate: now(), history: [],
      };
      executions.set(arn, e);
      const sm = new StateMachine(m.parsed);
      const run = sm.run(input, {
        context: {
          Execution: { Id: arn, Name: name, Input: input, StartTime: new Date(e.startDate * 1000).toISOString(), RoleArn: m.roleArn },
          StateMachine: { Id: m.arn, Name: m.name },
        },
      });
      e.abort = run.abort;
      (async () => {
        try {
          for await (const ev of run.eventLogs) {
            e.history.push({ timestamp: ev.timestamp ? ev.timestamp / 1000 : now(), type: ev.type, state: ev.state?.name, index: ev.index });
          }
        } catch {
          // the result promise reports the failure
        }
      })();
      run.result.then(
        (out) => {
          if (e.status !== 'RUNNING') return;
          e.status = 'SUCCEEDED';
          e.output = JSON.stringify(out ?? null);
          e.stopDate = now();
          log({ msg: 'execution finished', executionArn: arn, status: e.status });
        },
        (err) => {
          if (e.status !== 'RUNNING') return;
          const f = failureOf(err);
          e.status = f.status;
          if (f.error) e.error = f.error;
          if (f.cause !== undefined) e.cause = f.cause;
          e.stopDate = now();
          log({ msg: 'execution finished', executionArn: arn, status: e.status, error: e.error, cause: e.cause });
        },
      );
      return { executionArn: arn, startDate: e.startDate };
    },
    DescribeExecution(req) {
      return describeExecution(execution(req.executionArn));
    },
    ListExecutions(req) {
      machine(req.stateMachineArn);
      const list = [...executions.values()]
        .filter((e) => e.stateMachineArn === req.stateMachineArn && (!req.statusFilter || e.status === req.statusFilter))
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
    StopExecution(req) {
      const e = execution(req.executionArn);
      if (e.status === 'RUNNING') {
        e.status = 'ABORTED';
        e.stopDate = now();
        if (req.error) e.error = req.error;
        if (req.cause) e.cause = req.cause;
        try { e.abort(); } catch { /* already finished */ }
      }
      return { stopDate: e.stopDate };
    },
    GetExecutionHistory(req) {
      const e = execution(req.executionArn);
      const events = e.history.map((h, i) => ({ timestamp: h.timestamp, type: h.type, id: i + 1, previousEventId: i }));
      return { events: req.reverseOrder ? events.reverse() : events };
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
