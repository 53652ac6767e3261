#!/usr/bin/env bash
# Installs the local stack's tools, pinned in versions.env, into .tools/
# (git-ignored). Usage: install.sh [all|minio|dynamodb|node|python|web|browser|localstack]...
# Each part is skipped when its stamp (.tools/stamps/<part>) matches the
# pinned version, so a second run is a fast no-op and a version bump
# reinstalls only that part.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tools=$root/.tools
# shellcheck source=versions.env
source "$here/versions.env"
mkdir -p "$tools/bin" "$tools/stamps" "$tools/run"
export AWS_EC2_METADATA_DISABLED=true

say() { printf '==> %s\n' "$*"; }
stamped() { [[ -f $tools/stamps/$1 && $(cat "$tools/stamps/$1") == "$2" ]]; }
stamp() { echo "$2" > "$tools/stamps/$1"; }

install_minio() {
  local want="$MINIO_VERSION"
  if stamped minio "$want" && [[ -x $tools/bin/minio ]]; then return; fi
  say "MinIO $MINIO_VERSION: building from source with go install (first time about 5 minutes)"
  local start=$SECONDS
  GOBIN=$tools/bin GOFLAGS=-mod=mod go install "$MINIO_MODULE@$MINIO_VERSION"
  stamp minio "$want"
  say "MinIO built in $((SECONDS - start))s"
}

install_dynamodb() {
  local want="$DYNAMODB_LOCAL_VERSION"
  if stamped dynamodb "$want" && [[ -f $tools/dynamodb/classes/LoopbackRunner.class ]]; then return; fi
  say "DynamoDB Local $DYNAMODB_LOCAL_VERSION: fetching with Maven"
  rm -rf "$tools/dynamodb"
  mvn -B -q -f "$here/dynamodb/pom.xml" dependency:copy-dependencies \
    -Ddynamodb.local.version="$DYNAMODB_LOCAL_VERSION" -DoutputDirectory="$tools/dynamodb/lib"
  mkdir -p "$tools/dynamodb/classes"
  javac -d "$tools/dynamodb/classes" -cp "$tools/dynamodb/lib/*" "$here/dynamodb/LoopbackRunner.java"
  stamp dynamodb "$want"
}

install_node() {
  local want="$NODE_VERSION/$AWS_LOCAL_STEPFUNCTIONS_VERSION/$ASL_VALIDATOR_VERSION"
  if stamped node "$want" && [[ -x $tools/node/node_modules/.bin/node ]]; then
    ln -sfn ../../../.tools/node/node_modules "$here/sfn/node_modules"
    return
  fi
  say "Node $NODE_VERSION, aws-local-stepfunctions $AWS_LOCAL_STEPFUNCTIONS_VERSION, asl-validator $ASL_VALIDATOR_VERSION: npm install"
  mkdir -p "$tools/node"
  echo '{"name":"bulkops-local-tools","private":true}' > "$tools/node/package.json"
  (cd "$tools/node" && npm install --no-audit --no-fund --loglevel=error \
    "node@$NODE_VERSION" "aws-local-stepfunctions@$AWS_LOCAL_STEPFUNCTIONS_VERSION" "asl-validator@$ASL_VALIDATOR_VERSION")
  "$tools/node/node_modules/.bin/node" --version >/dev/null
  ln -sfn ../../../.tools/node/node_modules "$here/sfn/node_modules"
  stamp node "$want"
}

install_python() {
  local want="$CFN_LINT_VERSION/$AWS_SAM_CLI_VERSION"
  if stamped python "$want" && [[ -x $tools/venv/bin/sam ]]; then return; fi
  say "cfn-lint $CFN_LINT_VERSION and aws-sam-cli $AWS_SAM_CLI_VERSION: pip install into .tools/venv"
  rm -rf "$tools/venv"
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check \
    "cfn-lint==$CFN_LINT_VERSION" "aws-sam-cli==$AWS_SAM_CLI_VERSION"
  stamp python "$want"
}

# The web console's toolchain (web/package-lock.json: esbuild, TypeScript,
# playwright-core, axe-core; exact versions) into web/node_modules with the
# machine's npm; reinstalled when the lock file changes.
install_web() {
  local sum; sum=$(sha256sum "$root/web/package-lock.json" | cut -d' ' -f1)
  if [[ -f $root/web/node_modules/.bulkops-lock && $(cat "$root/web/node_modules/.bulkops-lock") == "$sum" ]]; then return; fi
  say "web console toolchain: npm ci in web/"
  (cd "$root/web" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$sum" > "$root/web/node_modules/.bulkops-lock"
}

# Debian's Chromium for the console's browser tests (playwright-core drives
# it; no tool downloads a browser of its own).
install_browser() {
  if command -v chromium >/dev/null 2>&1; then return; fi
  say "Chromium (Debian package) for the web console's browser tests"
  local sudo=""
  if [[ $(id -u) != 0 ]]; then sudo=sudo; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  chromium --version
}

# LocalStack for the second local backend (make test-localstack), host mode
# without Docker, into .tools/localstack/: uv from uv.lock (pip,
# --require-hashes) into .tools/localstack/uv, then a virtualenv on the
# machine's Python $LOCALSTACK_PYTHON (pyenv's, else on PATH) synced by uv
# from requirements.lock (exact versions, hashes required). Its stamp lives
# in .tools/localstack/ and names both lock files' hashes, so a changed
# lock reinstalls it.
localstack_python() {
  local py="" root
  if command -v pyenv >/dev/null 2>&1 && root=$(pyenv root 2>/dev/null); then
    py=$(ls -d "$root/versions/$LOCALSTACK_PYTHON".*/bin/python3 2>/dev/null | sort -V | tail -n 1)
  fi
  if [[ -z $py ]] && command -v "python$LOCALSTACK_PYTHON" >/dev/null 2>&1; then
    py=$(command -v "python$LOCALSTACK_PYTHON")
  fi
  if [[ -z $py ]]; then
    echo "install.sh: LocalStack $LOCALSTACK_VERSION needs Python $LOCALSTACK_PYTHON (pyenv install $LOCALSTACK_PYTHON, or python$LOCALSTACK_PYTHON on PATH)" >&2
    exit 1
  fi
  echo "$py"
}

install_localstack() {
  local ls=$tools/localstack lock=$here/localstack/requirements.lock uvlock=$here/localstack/uv.lock
  local py; py=$(localstack_python)
  local want; want="$LOCALSTACK_VERSION/$UV_VERSION/$("$py" -c 'import platform; print(platform.python_version())')/$(cat "$lock" "$uvlock" | sha256sum | cut -c1-16)"
  if [[ -f $ls/stamp && $(cat "$ls/stamp") == "$want" && -x $ls/venv/bin/python ]]; then return; fi
  say "LocalStack $LOCALSTACK_VERSION on $py: uv $UV_VERSION, then the locked packages into .tools/localstack"
  local start=$SECONDS
  rm -rf "$ls/uv" "$ls/venv" "$ls/stamp"
  mkdir -p "$ls"
  "$py" -m venv "$ls/uv"
  "$ls/uv/bin/pip" install --quiet --disable-pip-version-check --no-deps --require-hashes -r "$uvlock"
  UV_CACHE_DIR=$ls/uv-cache "$ls/uv/bin/uv" venv --quiet --python "$py" "$ls/venv"
  UV_CACHE_DIR=$ls/uv-cache "$ls/uv/bin/uv" pip sync --quiet --python "$ls/venv/bin/python" --require-hashes "$lock"
  "$ls/venv/bin/python" -c 'import localstack.runtime.main' 
  echo "$want" > "$ls/stamp"
  say "LocalStack installed in $((SECONDS - start))s"
}

parts=("$@")
[[ ${#parts[@]} -eq 0 ]] && parts=(all)
for p in "${parts[@]}"; do
  case $p in
    all) install_node; install_dynamodb; install_python; install_minio; install_web; install_browser ;;
    minio) install_minio ;;
    dynamodb) install_dynamodb ;;
    node) install_node ;;
    python) install_python ;;
    web) install_web ;;
    browser) install_browser ;;
    localstack) install_localstack ;;
    *) echo "install.sh: unknown part $p (all, minio, dynamodb, node, python, web, browser, localstack)" >&2; exit 2 ;;
  esac
done
