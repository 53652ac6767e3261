package localtest

import (
	"os"
	"testing"
)

// Backend is the local stack the integration tests run on: "local" (MinIO,
// DynamoDB Local, the ASL interpreter and the dev server; make test) or
// "localstack" (LocalStack with the app deployed by CloudFormation from
// template.yaml; make test-localstack), from BULKOPS_BACKEND.
func Backend() string {
	if b := os.Getenv("BULKOPS_BACKEND"); b != "" {
		return b
	}
	return "local"
}

// RequireDevServer skips a test that needs what only the dev server's stack
// has (its provisioned bulkops-local- resources, its Lambda Invoke API and
// /_local endpoints, its API Gateway play over them) when the tests run on
// another backend, saying so; on the local backend it does nothing (the
// test then fails if the dev server is down).
func RequireDevServer(t testing.TB) {
	t.Helper()
	if b := Backend(); b != "local" {
		t.Skipf("dev server backend only (BULKOPS_BACKEND=%s): needs the dev server's own stack; make test runs it", b)
	}
}

// SkipOnLocalStack skips a test on the LocalStack backend, naming what
// LocalStack lacks that the test needs (missing: "LocalStack's Step
// Functions sends no Execution Status Change events to EventBridge");
// make test-localstack lists these reasons. On the local backend it does
// nothing.
func SkipOnLocalStack(t testing.TB, missing string) {
	t.Helper()
	if Backend() == "localstack" {
		t.Skipf("dev server backend only: %s", missing)
	}
}
