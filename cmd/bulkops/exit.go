package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/apiclient"
)

// Exit codes: distinct, so a script can branch on the outcome. `bulkops
// help` and the README list them (exitCodesHelp).
const (
	exitOK                  = 0   // done; a job that was waited for is Completed
	exitGeneric             = 1   // anything else: the API refused the request, a file could not be read or written
	exitUsage               = 2   // the command line is wrong (unknown command or flag, missing argument)
	exitCompletedWithErrors = 3   // the job is Completed with errors: some rows were rejected (see the error CSV)
	exitFailed              = 4   // the job Failed
	exitCancelled           = 5   // the job was cancelled
	exitAuth                = 6   // no token, or the API refused it (401/403)
	exitBusy                = 7   // the tenant runs another bulk operation (409 TENANT_BUSY); retry later
	exitUnreachable         = 8   // the API (or storage) could not be reached
	exitTimeout             = 9   // --wait gave up (--timeout) while the job was still running
	exitInterrupted         = 130 // Ctrl-C
)

const exitCodesHelp = `Exit codes:
  0    success; a job that was waited for (--wait) is Completed
  1    any other error: the API refused the request (not found, invalid), a file could not be read or written
  2    usage error: unknown command or flag, missing or extra argument
  3    the job ended Completed with errors (some rows rejected; see the error CSV)
  4    the job ended Failed
  5    the job was cancelled
  6    authentication: no token, or the API refused it (401/403)
  7    the tenant is busy with another bulk operation (409 TENANT_BUSY); retry later
  8    the API or storage could not be reached
  9    --wait gave up (--timeout) while the job was still running
  130  interrupted (Ctrl-C)
`

// exitError is an error with its exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func authErr(format string, args ...any) error {
	return &exitError{code: exitAuth, err: fmt.Errorf(format, args...)}
}

// exitCode is the process's exit code for err.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var p *apiclient.Problem
	var u *apiclient.UnreachableError
	switch {
	case errors.As(err, &p) && (p.Status == 401 || p.Status == 403):
		return exitAuth
	case errors.As(err, &p) && p.Code == "TENANT_BUSY":
		return exitBusy
	case errors.As(err, &u):
		return exitUnreachable
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitGeneric
}

// describe says err to a person: a problem's detail and the fields at
// fault, a busy tenant's active job and when to retry.
func describe(err error) string {
	var p *apiclient.Problem
	if !errors.As(err, &p) {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString(p.Detail)
	if p.Code != "" {
		fmt.Fprintf(&b, " (%d %s)", p.Status, p.Code)
	}
	for _, f := range p.Errors {
		if f.Pointer != "" && !strings.Contains(f.Detail, f.Pointer) {
			fmt.Fprintf(&b, "\nfield %s: %s", f.Pointer, f.Detail)
		}
	}
	if p.ActiveJobID != "" {
		fmt.Fprintf(&b, "\nactive job: %s (bulkops job %s --wait)", p.ActiveJobID, p.ActiveJobID)
	}
	if p.RetryAfter > 0 {
		fmt.Fprintf(&b, "\nretry in %s", p.RetryAfter)
	}
	if p.Status == 401 {
		b.WriteString("\nthe token is missing, expired or not for this API: get a new one (locally: export BULKOPS_TOKEN=$(bin/bulkops token))")
	}
	if p.Instance != "" && p.Status >= 500 {
		fmt.Fprintf(&b, "\nreport: %s", p.Instance)
	}
	return b.String()
}

// jobOutcome is the error (and exit code) a finished job ends the command
// with: nil when it is Completed.
func jobOutcome(j apiclient.Job) error {
	what := fmt.Sprintf("%s job %s", j.Type, j.ID)
	reason := ""
	if j.Message != "" {
		reason = ": " + j.Message
	}
	switch {
	case j.Cancelled():
		by := ""
		if j.CancelledBy != "" {
			by = " by " + j.CancelledBy
		}
		return &exitError{code: exitCancelled, err: fmt.Errorf("%s was cancelled%s%s", what, by, reason)}
	case j.Status == "Completed":
		return nil
	case j.Status == "Completed with errors":
		return &exitError{code: exitCompletedWithErrors, err: fmt.Errorf("%s ended Completed with errors: %d of %d rows rejected%s", what, j.Counts.Failed, j.Counts.Total, reason)}
	case j.Status == "Failed":
		return &exitError{code: exitFailed, err: fmt.Errorf("%s Failed%s", what, reason)}
	}
	return nil
}

// timeoutErr is --wait giving up.
func timeoutErr(id string, d time.Duration) error {
	return &exitError{code: exitTimeout, err: fmt.Errorf("job %s is still running after %s; follow it with: bulkops job %s --wait", id, d, id)}
}
