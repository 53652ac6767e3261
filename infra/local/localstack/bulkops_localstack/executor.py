"""A LocalStack Lambda runtime executor that needs no Docker.

LocalStack's own executor starts a container per execution environment and
runs its Go init (the Lambda Runtime API) inside it. This one runs the
function's `bootstrap` (runtime provided.al2023: the Go binary of
functions/<fn>, built for this machine) as a local process, and serves the
Lambda Runtime API to it on 127.0.0.1 from a small HTTP server of its own:

    GET  /2018-06-01/runtime/invocation/next            the next event
    POST /2018-06-01/runtime/invocation/<id>/response   its result
    POST /2018-06-01/runtime/invocation/<id>/error      its error
    POST /2018-06-01/runtime/init/error                 a failed start

One execution environment is one process and one server, as in Lambda:
LocalStack starts more environments for concurrent invocations and stops
idle ones (LAMBDA_KEEPALIVE_MS). An invocation past the function's Timeout
stops the process and answers as Lambda does ("Task timed out after N
seconds"); the next invocation gets a new environment.

The environment variables are the ones LocalStack gives a function (its
template Environment, the role's credentials, AWS_ENDPOINT_URL pointing at
LocalStack on 127.0.0.1), so the bootstrap talks to LocalStack's services.
"""

import json
import logging
import os
import queue
import struct
import subprocess
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from localstack import config
from localstack.services.lambda_.invocation.lambda_models import (
    FunctionVersion,
    InvocationResult,
)
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor

LOG = logging.getLogger(__name__)

RUNTIME_PREFIX = "/2018-06-01/runtime"
MAX_LOG_CHARS = 256 * 1024
# ELF e_machine values of the architectures a bootstrap may be built for.
ELF_MACHINES = {62: "x86_64", 183: "arm64"}


class StartupError(Exception):
    pass


def elf_arch(path: str) -> str | None:
    """The architecture an ELF binary is built for, or None if not ELF."""
    with open(path, "rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    machine = struct.unpack_from("<H", head, 18)[0]
    return ELF_MACHINES.get(machine, f"e_machine {machine}")


def host_arch() -> str:
    m = os.uname().machine
    return {"amd64": "x86_64", "aarch64": "arm64"}.get(m, m)


class _Invocation:
    def __init__(self, payload: dict, deadline_ms: int):
        self.payload = payload
        self.deadline_ms = deadline_ms
        self.result: Future = Future()


class _RuntimeAPI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, executor: "LocalProcessRuntimeExecutor"):
        self.executor = executor
        super().__init__(("127.0.0.1", 0), _RuntimeAPIHandler)

    def handle_error(self, request, client_address):
        # A bootstrap stopped while it waited for its next event: expected
        # when an environment is stopped, not worth a traceback.
        LOG.debug("runtime api: request from %s ended early", client_address, exc_info=True)


class _RuntimeAPIHandler(BaseHTTPRequestHandler):
    server: _RuntimeAPI

    def log_message(self, fmt, *args):  # quiet: LocalStack logs the invocations
        LOG.debug("runtime api: " + fmt, *args)

    def _body(self) -> bytes:
        # aws-lambda-go streams its responses: chunked, no Content-Length.
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _reply(self, status: int, body: bytes = b"", headers: dict | None = None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):
        ex = self.server.executor
        if self.path != RUNTIME_PREFIX + "/invocation/next":
            self._reply(404, b'{"errorType":"NotFound"}')
            return
        ex.ready.set()
        inv = ex.next_invocation()
        if inv is None:  # stopping
            self._reply(410, b'{"errorType":"Shutdown"}')
            return
        p = inv.payload
        self._reply(
            200,
            p["payload"].encode(),
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": p["invoke-id"],
                "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": p["invoked-function-arn"],
                "Lambda-Runtime-Trace-Id": p.get("trace-id", ""),
            },
        )

    def do_POST(self):
        ex = self.server.executor
        body = self._body()
        rest = self.path[len(RUNTIME_PREFIX) :] if self.path.startswith(RUNTIME_PREFIX) else ""
        if rest == "/init/error":
            ex.init_error = body or b'{"errorType":"Runtime.InitError"}'
            ex.ready.set()
            self._reply(202, b'{"status":"OK"}')
            return
        parts = rest.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            if ex.finish(parts[1], body, is_error=parts[2] == "error"):
                self._reply(202, b'{"status":"OK"}')
            else:
                self._reply(400, b'{"errorType":"InvalidRequestID"}')
            return
        self._reply(404, b'{"errorType":"NotFound"}')


class LocalProcessRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id, function_version)
        self.process: subprocess.Popen | None = None
        self.api: _RuntimeAPI | None = None
        self.ready = threading.Event()
        self.init_error: bytes | None = None
        self.pending: "queue.Queue[_Invocation | None]" = queue.Queue()
        self.current: _Invocation | None = None
        self.lock = threading.Lock()
        self.logs: list[str] = []
        self.log_chars = 0

    # -- the Runtime API's side
    def next_invocation(self) -> "_Invocation | None":
        inv = self.pending.get()
        with self.lock:
            self.current = inv
        return inv

    def finish(self, request_id: str, body: bytes, is_error: bool) -> bool:
        with self.lock:
            inv = self.current
            if inv is None or inv.payload["invoke-id"] != request_id:
                return False
            self.current = None
        inv.result.set_result((body, is_error))
        return True

    def _collect(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            with self.lock:
                if self.log_chars < MAX_LOG_CHARS:
                    self.logs.append(line)
                    self.log_chars += len(line)
            LOG.debug("[lambda %s] %s", self.function_version.id.function_name, line.rstrip())

    # -- RuntimeExecutor
    def start(self, env_vars: dict[str, str]) -> None:
        code_dir = str(self.function_version.config.code.get_unzipped_code_location())
        bootstrap = os.path.join(code_dir, "bootstrap")
        if not os.path.isfile(bootstrap):
            raise StartupError(f"{self.function_version.id.function_name}: no bootstrap in its package")
        arch = elf_arch(bootstrap)
        if arch is not None and arch != host_arch():
            raise StartupError(
                f"{self.function_version.id.function_name}: bootstrap is built for {arch}, this machine "
                f"is {host_arch()}; build the functions for it (infra/local/localstack/deploy.sh sets LAMBDA_GOARCH)"
            )
        os.chmod(bootstrap, 0o755)
        self.api = _RuntimeAPI(self)
        threading.Thread(target=self.api.serve_forever, daemon=True).start()
        env = {k: str(v) for k, v in env_vars.items()}
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.api.server_address[1]}",
                "LAMBDA_TASK_ROOT": code_dir,
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        self.process = subprocess.Popen(
            [bootstrap],
            cwd=code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._collect, args=(self.process.stdout,), daemon=True).start()
        deadline = time.monotonic() + config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT
        while not self.ready.wait(0.05):
            if self.process.poll() is not None:
                raise StartupError(
                    f"bootstrap exited with {self.process.returncode} before asking for an event: {self.get_logs()[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise StartupError("bootstrap did not ask for an event in time")
        if self.init_error is not None:
            raise StartupError(f"init error: {self.init_error.decode('utf-8', 'replace')}")

    def stop(self) -> None:
        self.pending.put(None)
        p = self.process
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.api is not None:
            self.api.shutdown()
            self.api.server_close()
        with self.lock:
            inv, self.current = self.current, None
        if inv is not None and not inv.result.done():
            inv.result.set_result((b'{"errorType":"Runtime.ExitError","errorMessage":"stopped"}', True))

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        port = self.api.server_address[1] if self.api else 0
        return f"http://127.0.0.1:{port}{RUNTIME_PREFIX}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        timeout = float(self.function_version.config.timeout)
        inv = _Invocation(payload, int((time.time() + timeout) * 1000))
        self.pending.put(inv)
        request_id = payload["invoke-id"]
        try:
            body, is_error = inv.result.result(timeout + 1)
        except FutureTimeout:
            # Lambda stops the sandbox at the deadline.
            if self.process is not None and self.process.poll() is None:
                self.process.kill()
            body = json.dumps(
                {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {timeout:.2f} seconds"}
            ).encode()
            is_error = True
        if self.process is not None and self.process.poll() is not None and not is_error:
            LOG.debug("bootstrap of %s exited", self.function_version.id.function_name)
        # Each invocation reports the output since the previous one (the
        # first one's includes the init's).
        with self.lock:
            out, self.logs, self.log_chars = "".join(self.logs), [], 0
        return InvocationResult(request_id, body, is_error, out)

    def get_logs(self) -> str:
        with self.lock:
            return "".join(self.logs)

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        return True


class LocalProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    """Registered as `local-process` (LAMBDA_RUNTIME_EXECUTOR=local-process)."""

    name = "local-process"

    def load(self, *args, **kwargs):
        return LocalProcessRuntimeExecutor
