package delivery

import (
	"context"
	"log/slog"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// CheckName checks a remote file name before a delivery: a bad one fails
// the delivery in the config phase, with ValidateFileName's reason.
func CheckName(name string) error {
	if err := ValidateFileName(name); err != nil {
		return Fail(PhaseConfig, bulkerr.Invalid, nil, "%s", bulkerr.Message(err))
	}
	return nil
}

// Outcome is a connection test's answer: the failure's sentence when err
// is set, else OK with sentence.
func Outcome(err error, sentence string) TestResult {
	if err != nil {
		return Failed(err)
	}
	return TestResult{OK: true, Sentence: sentence}
}

// LogResult logs one delivery or connection test (op) of a kind's
// deliverer: "<kind> delivery done" at INFO, or "<kind> delivery failed"
// at WARN with the phase and the error, with the tenant, the target and
// kv (never a secret: the adapters pass none). A nil log logs nothing.
func LogResult(ctx context.Context, log *slog.Logger, kind string, t Target, op string, err error, kv ...any) {
	if log == nil {
		return
	}
	args := append([]any{"op", op, "tenant", t.Tenant, "target", t.ID}, kv...)
	if err != nil {
		log.WarnContext(ctx, kind+" delivery failed", append(args, "phase", string(PhaseOf(err)), "error", err.Error())...)
		return
	}
	log.InfoContext(ctx, kind+" delivery done", args...)
}
