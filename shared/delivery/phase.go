package delivery

import (
	"errors"
	"fmt"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Phase is the step of a delivery that failed. Its values appear in run
// histories and in the tenant's notices.
type Phase string

// The phases, in the order a delivery goes through them.
const (
	// PhaseConfig: the target itself is unusable (wrong kind, bad settings).
	PhaseConfig Phase = "config"
	// PhaseCredential: the credential could not be read from its secret.
	PhaseCredential Phase = "credential"
	// PhaseConnect: the server could not be reached (DNS, refused, timeout).
	PhaseConnect Phase = "connect"
	// PhaseHostKey: the server's host key is not the pinned one.
	PhaseHostKey Phase = "host-key"
	// PhaseAuthenticate: the server refused the credential, or the tenant's
	// role could not be assumed.
	PhaseAuthenticate Phase = "authenticate"
	// PhaseFolder: the folder (or bucket/prefix) is missing or not writable.
	PhaseFolder Phase = "folder"
	// PhaseWrite: writing the file failed (full disk, quota, connection lost).
	PhaseWrite Phase = "write"
	// PhaseRename: the complete file could not be moved over the final name.
	PhaseRename Phase = "rename"
	// PhaseCleanup: the connection test's probe file could not be removed.
	PhaseCleanup Phase = "cleanup"
)

// Phases lists every phase in order.
func Phases() []Phase {
	return []Phase{PhaseConfig, PhaseCredential, PhaseConnect, PhaseHostKey, PhaseAuthenticate, PhaseFolder, PhaseWrite, PhaseRename, PhaseCleanup}
}

// Error is a failed delivery: the phase it failed in, wrapping a
// *bulkerr.Error whose message (safe for the tenant) says what failed.
type Error struct {
	Phase Phase
	Err   error
}

// Error returns "<phase>: <message>: <cause>".
func (e *Error) Error() string { return string(e.Phase) + ": " + e.Err.Error() }

// Unwrap returns the *bulkerr.Error, so bulkerr.KindOf and Message work.
func (e *Error) Unwrap() error { return e.Err }

// Fail returns a delivery error of phase p and kind k. The message (a
// fmt format) is what the tenant reads; cause (may be nil) is for the logs
// and must never hold a secret.
func Fail(p Phase, k bulkerr.Kind, cause error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if cause == nil {
		return &Error{Phase: p, Err: bulkerr.New(k, "%s", msg)}
	}
	return &Error{Phase: p, Err: bulkerr.Wrap(k, cause, "%s", msg)}
}

// PhaseOf returns the phase of a delivery error, or "" when err is not one.
func PhaseOf(err error) Phase {
	var e *Error
	if errors.As(err, &e) {
		return e.Phase
	}
	return ""
}

// Failed turns a delivery error into the failed TestResult a connection
// test answers with: "failed at <phase>: <message>".
func Failed(err error) TestResult {
	p := PhaseOf(err)
	if p == "" {
		p = PhaseConfig
	}
	return TestResult{Phase: p, Sentence: fmt.Sprintf("failed at %s: %s", p, bulkerr.Message(err))}
}
