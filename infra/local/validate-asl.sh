#!/usr/bin/env bash
# Validates state machine definitions with asl-validator. DefinitionSubstitutions
# placeholders (${Name}) are replaced by a well-formed Lambda ARN first, as
# CloudFormation would replace them. Usage: validate-asl.sh FILE...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$root/.tools/node/node_modules/.bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for f in "$@"; do
  out=$tmp/$(basename "$f")
  sed -E 's/\$\{[A-Za-z0-9]+\}/arn:aws:lambda:us-east-1:000000000000:function:placeholder/g' "$f" > "$out"
  if "$bin/node" "$bin/asl-validator" --json-path "$out"; then
    echo "asl-validator: $f OK"
  else
    echo "asl-validator: $f has errors (above)" >&2
    status=1
  fi
done
exit $status
