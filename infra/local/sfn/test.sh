#!/usr/bin/env bash
# Runs the local Step Functions server's own tests on the pinned Node 22.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../../.. && pwd)
export AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=localsecret AWS_REGION=us-east-1
unset AWS_ENDPOINT_URL_LAMBDA AWS_ENDPOINT_URL_EVENTBRIDGE
exec "$root/.tools/node/node_modules/.bin/node" --test server.test.mjs distributed.test.mjs
