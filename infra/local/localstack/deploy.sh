#!/usr/bin/env bash
# Deploys the app into LocalStack from template.yaml, as `samlocal deploy`
# would: `sam build` (the Makefile's build-<LogicalId> targets, for this
# machine's architecture, since LocalStack runs each bootstrap as a local
# process) and `sam deploy` with AWS_ENDPOINT_URL at LocalStack, so
# CloudFormation with the SAM transform creates the stack; nothing of it is
# described anywhere else. Parameters for local use: the dev server's OIDC
# issuer (no Cognito user pool, which the community edition lacks), its
# audience and tenant claim, short lock waits.
# Usage: BULKOPS_BACKEND=localstack infra/local/localstack/deploy.sh
#   (the stack is BULKOPS_STACK_NAME, default bulkops; stack.sh up first)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
export BULKOPS_BACKEND=localstack
# shellcheck source=../env.sh
source "$here/../env.sh"
sam=$root/.tools/venv/bin/sam
export SAM_CLI_TELEMETRY=0
case $(uname -m) in
  x86_64) goarch=amd64 ;;
  aarch64 | arm64) goarch=arm64 ;;
  *) echo "deploy: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
build=$root/.tools/run/localstack-build
start=$SECONDS
cd "$root"
make -s lambdas-cache LAMBDA_GOARCH=$goarch
LAMBDA_GOARCH=$goarch "$sam" build --template template.yaml --build-dir "$build" \
  --build-in-source --cached --cache-dir "$root/.tools/run/localstack-build-cache" --parallel >"$root/.tools/run/localstack-build.log" 2>&1 || {
  tail -n 40 "$root/.tools/run/localstack-build.log" >&2; exit 1; }
echo "  sam build (GOARCH=$goarch) in $((SECONDS - start))s"
start=$SECONDS
"$sam" deploy --template-file "$build/template.yaml" --stack-name "$BULKOPS_STACK_NAME" \
  --region "$AWS_REGION" --resolve-s3 --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
  --no-confirm-changeset --no-fail-on-empty-changeset --no-progressbar \
  --parameter-overrides "Stage=dev" "LogLevel=DEBUG" "TenantClaim=tenant" \
    "JwtIssuer=http://127.0.0.1:$BULKOPS_LAMBDA_PORT/oidc" "JwtAudience=bulkops-local" \
    "LockWaitSeconds=2" >"$root/.tools/run/localstack-deploy.log" 2>&1 || {
  tail -n 60 "$root/.tools/run/localstack-deploy.log" >&2; exit 1; }
echo "  sam deploy of stack $BULKOPS_STACK_NAME into LocalStack in $((SECONDS - start))s"
# The stack as CloudFormation describes it (status, outputs, every resource's
# physical ID) for the tests: BULKOPS_LOCALSTACK_STACK_FILE (env.sh).
"$root/.tools/venv/bin/python" - "$BULKOPS_STACK_NAME" "$BULKOPS_LOCALSTACK_STACK_FILE" <<'PY'
import json, os, sys
import boto3
name, out = sys.argv[1], sys.argv[2]
cfn = boto3.client("cloudformation")
stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
resources = {}
for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
    for r in page["StackResourceSummaries"]:
        resources[r["LogicalResourceId"]] = {
            "type": r["ResourceType"], "physicalId": r.get("PhysicalResourceId", ""), "status": r["ResourceStatus"]}
doc = {"stackName": name, "status": stack["StackStatus"],
       "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
       "parameters": {p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", "")) for p in stack.get("Parameters", [])},
       "resources": resources}
# Written whole, then renamed: the dev server fronting the stack's HTTP API
# reads it whenever it changes.
with open(out + ".tmp", "w") as f:
    json.dump(doc, f, indent=1, sort_keys=True)
os.replace(out + ".tmp", out)
print(f"  stack {name}: {stack['StackStatus']}, {len(resources)} resources (described in {out})")
PY
