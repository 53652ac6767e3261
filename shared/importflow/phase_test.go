package importflow_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobevents"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// TestFailurePhases: a failed import records where it failed, and its
// "Bulk Job Status Changed" event carries it: the upload's folder (upload
// checks), the file read through (file checks), the header, every chunk
// failing (the first chunk's rows), and waiting for the lock. Against
// MinIO and DynamoDB Local.
func TestFailurePhases(t *testing.T) {
	rows := "Name,Description,Type\n" + codes(4, 0, "IDLE_CODE")
	for _, c := range []struct {
		name, typ, body string
		setup           func(h *harness) func()
		want            string
	}{
		{name: "unknown type", typ: "no-such-type", body: rows, want: jobs.PhaseUploadChecks},
		{name: "row limit", typ: "work-type", body: rows, want: jobs.PhaseFileChecks, setup: func(h *harness) func() {
			old := h.flow.Config.Limits
			h.flow.Config.Limits.MaxRows = 2
			return func() { h.flow.Config.Limits = old }
		}},
		{name: "header", typ: "work-type", body: "Nope,Columns\n1,2\n", want: jobs.PhaseHeader},
		{name: "every chunk", typ: "work-type", body: rows, want: "rows (chunk 1 of 2)", setup: func(h *harness) func() {
			orig := h.flow.Objects
			h.catchChunks = true
			h.flow.Objects = func(tn string) importflow.ObjectStore {
				return failingReads{ObjectStore: orig(tn), keys: map[string]bool{"code 00": true, "code 02": true}}
			}
			return func() { h.flow.Objects, h.catchChunks = orig, false }
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, 2)
			if c.setup != nil {
				defer c.setup(h)()
			}
			tenant := uniqueTenant("phase")
			j := h.run(h.upload(tenant, c.typ, "f.csv", []byte(c.body), nil), nil)
			if j.Status != jobs.StatusFailed || jobs.FailurePhase(j) != c.want || j.FailedPhase != c.want {
				t.Fatalf("job %s %q: phase %q (recorded %q), want %q", j.Status, j.Message, jobs.FailurePhase(j), j.FailedPhase, c.want)
			}
			if d := jobevents.DetailOf(j); d.Phase != c.want {
				t.Fatalf("event phase %q", d.Phase)
			}
		})
	}

	t.Run("lock", func(t *testing.T) {
		h := newHarness(t, 2)
		ctx := context.Background()
		tenant := uniqueTenant("phase")
		if l, err := h.db.AcquireLock(ctx, tenant, "01OTHERJOB0000000000000000", time.Minute); err != nil || !l.Acquired {
			t.Fatal(l, err)
		}
		h.flow.Config.LockWaitAttempts = 1
		sr, err := h.flow.Start(ctx, h.upload(tenant, "work-type", "f.csv", []byte(rows), nil))
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.flow.AcquireLock(ctx, sr.Job, importflow.LockState{})
		if bulkerr.KindOf(err) != bulkerr.Busy {
			t.Fatalf("lock: %v", err)
		}
		// The state machine's Catch.
		if err := h.flow.MarkFailed(ctx, sr.Job, &importflow.StateError{Error: bulkerr.StateName(err), Cause: `{"errorMessage":"busy"}`}); err != nil {
			t.Fatal(err)
		}
		j, err := h.db.GetJob(ctx, tenant, sr.Job.JobID)
		if err != nil || j.Status != jobs.StatusFailed || jobs.FailurePhase(j) != jobs.PhaseLock || !strings.Contains(j.Message, "busy") {
			t.Fatalf("job %s %q phase %q, %v", j.Status, j.Message, jobs.FailurePhase(j), err)
		}
	})
}
