# Sourced by the local-stack scripts and the Makefile's shell recipes: the
# ports of the local servers and the AWS settings that point the SDKs at
# them. Dummy static credentials, and no instance metadata lookups ever.
export AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-localsecret}
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_DEFAULT_REGION=$AWS_REGION
unset AWS_PROFILE AWS_SESSION_TOKEN

BULKOPS_S3_PORT=${BULKOPS_S3_PORT:-9000}
BULKOPS_S3_CONSOLE_PORT=${BULKOPS_S3_CONSOLE_PORT:-9001}
BULKOPS_DYNAMODB_PORT=${BULKOPS_DYNAMODB_PORT:-8000}
BULKOPS_SFN_PORT=${BULKOPS_SFN_PORT:-8083}
BULKOPS_API_PORT=${BULKOPS_API_PORT:-3000}
BULKOPS_LAMBDA_PORT=${BULKOPS_LAMBDA_PORT:-3001}
BULKOPS_LOCALSTACK_PORT=${BULKOPS_LOCALSTACK_PORT:-4566}

export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$BULKOPS_S3_PORT
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$BULKOPS_DYNAMODB_PORT
export AWS_ENDPOINT_URL_SFN=http://127.0.0.1:$BULKOPS_SFN_PORT
export AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:$BULKOPS_LAMBDA_PORT
# The HTTP API as API Gateway serves it: under the template's stage (dev).
export BULKOPS_API_URL=http://127.0.0.1:$BULKOPS_API_PORT/dev
# The dev server's local OpenID Connect provider (discovery, JWKS, sign-in
# with PKCE, token); `bulkops token` signs its tokens for this issuer.
export BULKOPS_OIDC_ISSUER=http://127.0.0.1:$BULKOPS_LAMBDA_PORT/oidc
# EventBridge PutEvents is served by the dev server (cmd/devserver).
export AWS_ENDPOINT_URL_EVENTBRIDGE=http://127.0.0.1:$BULKOPS_LAMBDA_PORT
# Secrets Manager (delivery targets' credentials) is served by the dev
# server under /secretsmanager (shared/dev/devstack/secretsmanager.go).
export AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:$BULKOPS_LAMBDA_PORT/secretsmanager
# STS AssumeRole (delivery to a tenant's own bucket) is MinIO's: its
# temporary credentials are valid on the local S3 (docs/delivery.md).
export AWS_ENDPOINT_URL_STS=http://127.0.0.1:$BULKOPS_S3_PORT
# The local SFTP server (cmd/sftpserver), a delivery target.
BULKOPS_SFTP_PORT=${BULKOPS_SFTP_PORT:-2222}
export BULKOPS_SFTP_ADDR=127.0.0.1:$BULKOPS_SFTP_PORT
# SES v2 (the tenants' notification mail) is played by the dev server, which
# lists the mail it accepted at /_local/ses/messages; its webhook sink at
# /_local/webhooks/<name> is plain http on 127.0.0.1, which only the local
# stack's notifier accepts.
export AWS_ENDPOINT_URL_SESV2=http://127.0.0.1:$BULKOPS_LAMBDA_PORT
export BULKOPS_NOTIFY_ALLOW_LOOPBACK=true

# BULKOPS_BACKEND=localstack (make test-localstack): every AWS API goes to
# LocalStack's edge port instead (its DynamoDB forwards to DynamoDB Local).
# The app's resources are the CloudFormation stack deployed from
# template.yaml (infra/local/localstack/deploy.sh, stack BULKOPS_STACK_NAME).
if [[ ${BULKOPS_BACKEND:-local} == localstack ]]; then
  BULKOPS_LOCALSTACK_URL=http://127.0.0.1:$BULKOPS_LOCALSTACK_PORT
  # LocalStack's own dummy credentials: it checks presigned URLs' signatures
  # (S3_SKIP_SIGNATURE_VALIDATION=0) with the secret it knows for them.
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  export AWS_ENDPOINT_URL=$BULKOPS_LOCALSTACK_URL
  export AWS_ENDPOINT_URL_S3=$BULKOPS_LOCALSTACK_URL
  export AWS_ENDPOINT_URL_DYNAMODB=$BULKOPS_LOCALSTACK_URL
  export AWS_ENDPOINT_URL_SFN=$BULKOPS_LOCALSTACK_URL
  export AWS_ENDPOINT_URL_LAMBDA=$BULKOPS_LOCALSTACK_URL
  export AWS_ENDPOINT_URL_EVENTBRIDGE=$BULKOPS_LOCALSTACK_URL
  # Delivery targets' secrets and STS: LocalStack's own.
  export AWS_ENDPOINT_URL_SECRETS_MANAGER=$BULKOPS_LOCALSTACK_URL
  export AWS_ENDPOINT_URL_STS=$BULKOPS_LOCALSTACK_URL
  # SES v2: LocalStack's (the mail it accepted is listed at GET /_aws/ses).
  export AWS_ENDPOINT_URL_SESV2=$BULKOPS_LOCALSTACK_URL
  # The HTTP API (BULKOPS_API_URL), the OIDC issuer (BULKOPS_OIDC_ISSUER)
  # and the webhook sink stay the dev server's: it fronts the deployed
  # stack (devserver -deployed-stack), since LocalStack's community
  # edition has no API Gateway v2.
  export BULKOPS_STACK_NAME=${BULKOPS_STACK_NAME:-bulkops}
  # deploy.sh writes the deployed stack's description here for the tests.
  BULKOPS_LOCALSTACK_STACK_FILE=${BULKOPS_LOCALSTACK_STACK_FILE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.tools/run/localstack-stack.json}
  export BULKOPS_LOCALSTACK_STACK_FILE
  export BULKOPS_BACKEND BULKOPS_LOCALSTACK_URL
fi
