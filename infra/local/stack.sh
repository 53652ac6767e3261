#!/usr/bin/env bash
# Starts, stops and reports the local AWS stack, every server on 127.0.0.1:
#   dynamodb  DynamoDB Local (in memory)                  :$BULKOPS_DYNAMODB_PORT
#   sfn       Step Functions API + aws-local-stepfunctions :$BULKOPS_SFN_PORT
#   devserver Lambda Invoke API, S3 webhook, EventBridge  :$BULKOPS_LAMBDA_PORT
#             and the HTTP API                             :$BULKOPS_API_PORT
#   minio     S3                                           :$BULKOPS_S3_PORT
#   the web console (web/dist, served by the dev server)    :$BULKOPS_CONSOLE_PORT
#   sftp      SFTP server, a delivery target (cmd/sftpserver) :$BULKOPS_SFTP_PORT
# With BULKOPS_BACKEND=localstack (make test-localstack) the stack is
#   dynamodb   DynamoDB Local, as above                     :$BULKOPS_DYNAMODB_PORT
#   localstack LocalStack in host mode (S3, EventBridge, Step Functions,
#              Lambda without Docker, CloudFormation, IAM, STS, SQS, SNS,
#              KMS, Logs, CloudWatch; DynamoDB forwarded to DynamoDB Local)
#                                                           :$BULKOPS_LOCALSTACK_PORT
#   devserver  only the part LocalStack's community edition lacks: the
#              template's HTTP API (stage, routes, JWT authorizer, CORS)
#              invoking the deployed ApiFunction in LocalStack, and the
#              OIDC issuer the deployed JwtIssuer names, the webhook sink
#              (-deployed-stack)               :$BULKOPS_API_PORT, :$BULKOPS_LAMBDA_PORT
#   sftp       the SFTP delivery target, as above :$BULKOPS_SFTP_PORT
#   and the app is deployed into it from template.yaml by
#   infra/local/localstack/deploy.sh (stack.sh deploy).
# Usage: stack.sh up|down|status|running
# Processes are started in the background with PIDs in .tools/run/<name>.pid
# and logs in .tools/run/<name>.log, and stopped by those PIDs only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tools=$root/.tools
run=$tools/run
# shellcheck source=env.sh
source "$here/env.sh"
mkdir -p "$run"
BULKOPS_CONSOLE_PORT=${BULKOPS_CONSOLE_PORT:-3002}
BACKEND=${BULKOPS_BACKEND:-local}
case $BACKEND in
  local) parts=(dynamodb sfn devserver minio sftp) ;;
  localstack) parts=(dynamodb localstack devserver sftp) ;;
  *) echo "stack: BULKOPS_BACKEND=$BACKEND: want local or localstack" >&2; exit 2 ;;
esac

port_of() {
  case $1 in
    dynamodb) echo "$BULKOPS_DYNAMODB_PORT" ;;
    sfn) echo "$BULKOPS_SFN_PORT" ;;
    devserver) echo "$BULKOPS_LAMBDA_PORT" ;;
    minio) echo "$BULKOPS_S3_PORT" ;;
    sftp) echo "$BULKOPS_SFTP_PORT" ;;
    localstack) echo "$BULKOPS_LOCALSTACK_PORT" ;;
  esac
}

alive() { # alive NAME: the recorded process is running
  local pidf=$run/$1.pid
  [[ -f $pidf ]] && kill -0 "$(cat "$pidf")" 2>/dev/null
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

healthy() {
  local p; p=$(port_of "$1")
  case $1 in
    dynamodb) curl -fsS -m 2 -X POST "http://127.0.0.1:$p/" -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
      -H 'Content-Type: application/x-amz-json-1.0' \
      -H "Authorization: AWS4-HMAC-SHA256 Credential=$AWS_ACCESS_KEY_ID/20260101/$AWS_REGION/dynamodb/aws4_request, SignedHeaders=host, Signature=0" \
      -d '{}' >/dev/null 2>&1 ;;
    sfn) curl -fsS -m 2 "http://127.0.0.1:$p/health" >/dev/null 2>&1 ;;
    devserver) curl -fsS -m 2 "http://127.0.0.1:$p/_local/health" >/dev/null 2>&1 ;;
    minio) curl -fsS -m 2 "http://127.0.0.1:$p/minio/health/live" >/dev/null 2>&1 ;;
    sftp) sftp_banner "$p" ;;
    localstack) curl -fsS -m 2 "http://127.0.0.1:$p/_localstack/health" >/dev/null 2>&1 ;;
  esac
}

sftp_banner() { # sftp_banner PORT: an SSH server answers there
  local line
  { exec 3<>"/dev/tcp/127.0.0.1/$1" && IFS= read -r -t 2 line <&3 && exec 3>&-; } 2>/dev/null || return 1
  [[ $line == SSH-2.0-* ]]
}

start() { # start NAME COMMAND...
  local name=$1; shift
  if alive "$name"; then return; fi
  local p; p=$(port_of "$name")
  if listening "$p"; then
    echo "stack: port $p (for $name) is already in use by another process; stop it or set BULKOPS_*_PORT (infra/local/env.sh)" >&2
    exit 1
  fi
  echo "  starting $name on 127.0.0.1:$p"
  ( cd "$root" && exec "$@" ) >"$run/$name.log" 2>&1 &
  echo $! >"$run/$name.pid"
}

wait_healthy() { # wait_healthy NAME SECONDS
  local name=$1 deadline=$((SECONDS + $2))
  until healthy "$name"; do
    if ! alive "$name"; then
      echo "stack: $name exited; last lines of $run/$name.log:" >&2
      tail -n 30 "$run/$name.log" >&2 || true
      exit 1
    fi
    if ((SECONDS > deadline)); then
      echo "stack: $name did not become healthy in $2s; last lines of $run/$name.log:" >&2
      tail -n 30 "$run/$name.log" >&2 || true
      exit 1
    fi
    sleep 0.3
  done
  echo "  $name is up"
}

# LocalStack in host mode: bound to 127.0.0.1, every file it writes under
# .tools/run/localstack/ (OVERRIDE_IN_DOCKER=0, or it believes it runs in a
# container and writes into system folders), no DNS server, no telemetry,
# no certificate download; presigned S3 URLs are checked (as S3 and MinIO
# check them: a link bent to another key is refused); DynamoDB is the DynamoDB Local above and Lambda
# runs each function's bootstrap as a local process
# (infra/local/localstack/launch.py, bulkops_localstack/executor.py).
up_localstack() {
  local py=$tools/localstack/venv/bin/python
  if [[ ! -x $py ]]; then
    echo "stack: $py is missing; run make test-localstack (or infra/local/install.sh localstack)" >&2
    exit 1
  fi
  # DynamoDB Local may be the local backend's, already running: then it is
  # shared (LocalStack's requests carry its own account, a namespace of
  # their own) and `down` leaves it running.
  if ! alive dynamodb; then
    start dynamodb java -Djava.library.path="$tools/dynamodb/lib" -cp "$tools/dynamodb/classes:$tools/dynamodb/lib/*" \
      LoopbackRunner -port "$BULKOPS_DYNAMODB_PORT" -inMemory -disableTelemetry
    touch "$run/localstack-owns-dynamodb"
  fi
  wait_healthy dynamodb 60
  mkdir -p "$run/localstack"
  start localstack env -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_S3 -u AWS_ENDPOINT_URL_DYNAMODB \
    -u AWS_ENDPOINT_URL_SFN -u AWS_ENDPOINT_URL_LAMBDA -u AWS_ENDPOINT_URL_EVENTBRIDGE \
    -u AWS_ENDPOINT_URL_CLOUDFORMATION \
    GATEWAY_LISTEN="127.0.0.1:$BULKOPS_LOCALSTACK_PORT" LOCALSTACK_HOST="127.0.0.1:$BULKOPS_LOCALSTACK_PORT" \
    OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$run/localstack" DNS_ADDRESS=0 DISABLE_EVENTS=1 \
    SKIP_SSL_CERT_DOWNLOAD=1 S3_SKIP_SIGNATURE_VALIDATION=0 DYNAMODB_LOCAL_PORT="$BULKOPS_DYNAMODB_PORT" \
    LAMBDA_RUNTIME_EXECUTOR=local-process PYTHONPATH="$here/localstack" \
    "$py" "$here/localstack/launch.py"
  wait_healthy localstack 90
  for bin in "$root/bin/devserver" "$root/bin/sftpserver"; do
    if [[ ! -x $bin ]]; then
      echo "stack: $bin is missing; run make build" >&2
      exit 1
    fi
  done
  # The HTTP API of the deployed stack (LocalStack's community edition
  # has no API Gateway v2): the dev server fronts it, reading the stack's
  # description whenever deploy.sh writes it again.
  start devserver "$root/bin/devserver" -template "$root/template.yaml" -deployed-stack "$BULKOPS_LOCALSTACK_STACK_FILE" \
    -api "127.0.0.1:$BULKOPS_API_PORT" -aws "127.0.0.1:$BULKOPS_LAMBDA_PORT" -issuer "$BULKOPS_OIDC_ISSUER"
  start_sftp
  wait_healthy devserver 30
  wait_healthy sftp 30
  echo "localstack backend up (logs in .tools/run/; deploy the app with: infra/local/stack.sh deploy)"
}

# The SFTP delivery target: users demo (password), demo-key (the key
# pair in .tools/run/sftp-client-key) and full (a 64 KiB quota: a full
# disk); host key in .tools/run/sftp-host-key.pub (docs/delivery.md).
start_sftp() {
  start sftp "$root/bin/sftpserver" -addr "127.0.0.1:$BULKOPS_SFTP_PORT" -root "$run/sftp" \
    -host-key "$run/sftp-host-key" -client-key "$run/sftp-client-key" \
    -password-user demo=demo-sftp-password -key-user demo-key \
    -password-user full=demo-sftp-password -quota full=65536
}

up() {
  if [[ $BACKEND == localstack ]]; then up_localstack; return; fi
  for bin in "$tools/bin/minio" "$tools/node/node_modules/.bin/node" "$tools/dynamodb/classes/LoopbackRunner.class" "$root/bin/devserver" "$root/bin/sftpserver"; do
    if [[ ! -e $bin ]]; then
      echo "stack: $bin is missing; run make stack-up (it installs and builds what is missing)" >&2
      exit 1
    fi
  done
  start dynamodb java -Djava.library.path="$tools/dynamodb/lib" -cp "$tools/dynamodb/classes:$tools/dynamodb/lib/*" \
    LoopbackRunner -port "$BULKOPS_DYNAMODB_PORT" -inMemory -disableTelemetry
  start sfn "$tools/node/node_modules/.bin/node" "$here/sfn/server.mjs" --host 127.0.0.1 --port "$BULKOPS_SFN_PORT"
  wait_healthy dynamodb 60
  wait_healthy sfn 30
  # The dev server first: MinIO checks its webhook target when it starts.
  # Locally an upload waits 2 s (not 15) between attempts on a busy tenant,
  # and async Lambda retries come 100 times sooner (0.6 s and 1.2 s, not 1
  # and 2 minutes; the maximum event age likewise). Function timeouts are
  # the template's.
  start devserver "$root/bin/devserver" -template "$root/template.yaml" \
    -api "127.0.0.1:$BULKOPS_API_PORT" -aws "127.0.0.1:$BULKOPS_LAMBDA_PORT" \
    -issuer "$BULKOPS_OIDC_ISSUER" -async-scale "${BULKOPS_ASYNC_SCALE:-0.01}" \
    -console "127.0.0.1:$BULKOPS_CONSOLE_PORT" -console-dir "$root/web/dist" \
    -params "${BULKOPS_LOCAL_PARAMS:-LockWaitSeconds=2},ConsoleOrigins=http://127.0.0.1:$BULKOPS_CONSOLE_PORT"
  start minio env MINIO_ROOT_USER="$AWS_ACCESS_KEY_ID" MINIO_ROOT_PASSWORD="$AWS_SECRET_ACCESS_KEY" \
    MINIO_BROWSER=off MINIO_UPDATE=off \
    MINIO_NOTIFY_WEBHOOK_ENABLE_BULKOPS=on \
    MINIO_NOTIFY_WEBHOOK_ENDPOINT_BULKOPS="http://127.0.0.1:$BULKOPS_LAMBDA_PORT/_local/s3-events" \
    "$tools/bin/minio" server --quiet --address "127.0.0.1:$BULKOPS_S3_PORT" "$run/minio-data"
  start_sftp
  wait_healthy minio 60
  wait_healthy sftp 30
  wait_healthy devserver 150
  echo "local stack up (logs in .tools/run/; stop with: make stack-down)"
  echo "web console: http://127.0.0.1:$BULKOPS_CONSOLE_PORT/"
}

down() {
  local i name pid
  for ((i = ${#parts[@]} - 1; i >= 0; i--)); do
    name=${parts[i]}
    [[ -f $run/$name.pid ]] || continue
    if [[ $BACKEND == localstack && $name == dynamodb ]]; then
      [[ -f $run/localstack-owns-dynamodb ]] || continue
      rm -f "$run/localstack-owns-dynamodb"
    fi
    pid=$(cat "$run/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      # LocalStack stops its services (and the functions' processes) first.
      local tenths=50
      [[ $name == localstack ]] && tenths=200
      for _ in $(seq "$tenths"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
      echo "  stopped $name (pid $pid)"
    fi
    rm -f "$run/$name.pid"
  done
}

status() {
  local name
  for name in "${parts[@]}"; do
    if alive "$name" && healthy "$name"; then
      printf '  %-10s up       127.0.0.1:%s (pid %s)\n' "$name" "$(port_of "$name")" "$(cat "$run/$name.pid")"
    elif alive "$name"; then
      printf '  %-10s starting 127.0.0.1:%s (pid %s)\n' "$name" "$(port_of "$name")" "$(cat "$run/$name.pid")"
    else
      printf '  %-10s stopped\n' "$name"
    fi
  done
}

running() {
  local name
  for name in "${parts[@]}"; do
    alive "$name" && healthy "$name" || return 1
  done
}

case ${1:-} in
  up) up ;;
  deploy) exec "$here/localstack/deploy.sh" ;;
  down) down ;;
  status) status ;;
  running) running ;;
  *) echo "usage: stack.sh up|down|status|running|deploy" >&2; exit 2 ;;
esac
