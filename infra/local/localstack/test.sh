#!/usr/bin/env bash
# Runs the integration test packages (every package whose tests use
# shared/dev/localtest or shared/dev/cfnstack) on the LocalStack backend,
# verbose output in .tools/run/localstack-test.log, and prints each
# package's result, every skipped test with its reason (each names what
# LocalStack lacks: localtest.SkipOnLocalStack), and a final line with the
# counts of top-level tests passed, failed and skipped, the skipped ones'
# names, the skipped subtests' count and the run's seconds.
# Fails if a test failed or if none ran.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
export BULKOPS_BACKEND=localstack BULKOPS_INTEGRATION=1
# shellcheck source=../env.sh
source "$here/../env.sh"
cd "$root"
mapfile -t pkgs < <(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... |
  awk '/shared\/dev\/(localtest|cfnstack)( |$)/ && $1 !~ /shared\/dev\/(localtest|cfnstack)$/ || $1 ~ /shared\/dev\/cfnstack$/ {print $1}')
log=$root/.tools/run/localstack-test.log
status=0
go test -count=1 -v -timeout 20m "${pkgs[@]}" >"$log" 2>&1 || status=$?
grep -E '^(ok|FAIL|panic:)' "$log" || true
grep -E '^\s+--- FAIL|^--- FAIL' -A6 "$log" | head -n 80 || true
passed=$(grep -cE '^--- PASS' "$log" || true)
failed=$(grep -cE '^--- FAIL' "$log" || true)
skipped=$(grep -cE '^--- SKIP' "$log" || true)
# Each skipped test (subtests indented) with the reason it gave: the last
# line it logged before its "--- SKIP" is its t.Skip message.
echo "LocalStack backend: ${#pkgs[@]} packages; skipped tests and why:"
awk '/^=== (RUN|CONT|NAME) /{cur=$3; next}
  /^[ \t]*--- SKIP: /{name=$3; ind=($0 ~ /^[ \t]/) ? "    " : "  "; print ind name ": " msg[name]; next}
  /^[ \t]+[^ \t:]+_test\.go:[0-9]+: /{m=$0; sub(/^[ \t]+[^ \t:]+:[0-9]+: /, "", m); msg[cur]=m}' "$log" || true
names=$(grep -E '^--- SKIP: ' "$log" | awk '{print $3}' | paste -sd, - | sed 's/,/, /g' || true)
subs=$(grep -cE '^\s+--- SKIP: ' "$log" || true)
echo "localstack: $passed passed, $failed failed, $skipped skipped${names:+ ($names)}; $subs subtests skipped; $((SECONDS))s"
if [[ $status == 0 && $passed == 0 ]]; then
  echo "test-localstack: no test ran" >&2
  exit 1
fi
exit $status
