package jobs

import (
	"testing"
	"time"
)

func TestProgressAt(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		job     Job
		now     time.Time
		percent int
		eta     *int64
	}{
		{"new, nothing known", Job{Status: StatusNew}, start, 0, nil},
		{"started, no rows yet", Job{Status: StatusInProgress, StartedAt: &start, Counts: Counts{Total: 100}}, start.Add(time.Second), 0, nil},
		{"quarter done in 10s", Job{Status: StatusInProgress, StartedAt: &start, Counts: Counts{Total: 100, Processed: 25}}, start.Add(10 * time.Second), 25, ptr(30)},
		{"all rows processed but not final stays 99", Job{Status: StatusInProgress, StartedAt: &start, Counts: Counts{Total: 10, Processed: 10}}, start.Add(time.Second), 99, ptr(0)},
		{"final", Job{Status: StatusCompleted, Counts: Counts{Total: 10, Processed: 10}}, start, 100, ptr(0)},
		{"cancelled is final", Job{Status: StatusCancelled, Counts: Counts{Total: 10, Processed: 10, Failed: 7}}, start, 100, ptr(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.job.ProgressAt(tt.now)
			if p.Percent != tt.percent {
				t.Errorf("percent = %d, want %d", p.Percent, tt.percent)
			}
			switch {
			case tt.eta == nil && p.ETASeconds != nil:
				t.Errorf("eta = %d, want unknown", *p.ETASeconds)
			case tt.eta != nil && (p.ETASeconds == nil || *p.ETASeconds != *tt.eta):
				t.Errorf("eta = %v, want %d", p.ETASeconds, *tt.eta)
			}
		})
	}
}

func ptr(v int64) *int64 { return &v }

func TestTransitions(t *testing.T) {
	tests := []struct {
		from, to Status
		ok       bool
	}{
		{StatusNew, StatusInProgress, true},
		{StatusNew, StatusFailed, true},
		{StatusNew, StatusCompleted, false},
		{StatusInProgress, StatusCompleted, true},
		{StatusInProgress, StatusCompletedWithErrs, true},
		{StatusInProgress, StatusFailed, true},
		{StatusInProgress, StatusNew, false},
		{StatusCompleted, StatusFailed, false},
		{StatusFailed, StatusInProgress, false},
		{StatusNew, StatusCancelled, true},
		{StatusInProgress, StatusCancelled, true},
		{StatusCompleted, StatusCancelled, false},
		{StatusCancelled, StatusFailed, false},
		{StatusCancelled, StatusInProgress, false},
	}
	for _, tt := range tests {
		if got := CanMove(tt.from, tt.to); got != tt.ok {
			t.Errorf("CanMove(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.ok)
		}
	}
}

func TestFinalStatus(t *testing.T) {
	if FinalStatus(Counts{Total: 3, Processed: 3, Created: 3}) != StatusCompleted {
		t.Error("no failures should be Completed")
	}
	if FinalStatus(Counts{Total: 3, Processed: 3, Created: 2, Failed: 1}) != StatusCompletedWithErrs {
		t.Error("a failed row should be Completed with errors")
	}
}

func TestCancelRequested(t *testing.T) {
	tests := []struct {
		job  Job
		want bool
	}{
		{Job{Status: StatusInProgress}, false},
		{Job{Status: StatusInProgress, CancelledBy: "a@x"}, true},
		{Job{Status: StatusNew, CancelledBy: "a@x"}, true},
		{Job{Status: StatusCancelled, CancelledBy: "a@x"}, false},
	}
	for _, tt := range tests {
		if got := tt.job.CancelRequested(); got != tt.want {
			t.Errorf("%+v: CancelRequested = %v, want %v", tt.job, got, tt.want)
		}
	}
}

func TestFailurePhase(t *testing.T) {
	started := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		j    Job
		want string
	}{
		{Job{Type: TypeImport, Status: StatusFailed}, PhasePrepare},
		{Job{Type: TypeImport, Status: StatusFailed, StartedAt: &started}, PhaseApply},
		{Job{Type: TypeExport, Status: StatusFailed}, PhaseStart},
		{Job{Type: TypeExport, Status: StatusFailed, StartedAt: &started}, PhaseExport},
		{Job{Type: TypeImport, Status: StatusCompletedWithErrs, StartedAt: &started}, ""},
		{Job{Type: TypeExport, Status: StatusCancelled}, ""},
		// The recorded phase wins; a failed delivery names its step.
		{Job{Type: TypeImport, Status: StatusFailed, FailedPhase: PhaseHeader}, "header"},
		{Job{Type: TypeImport, Status: StatusFailed, StartedAt: &started, FailedPhase: ChunkPhase(2, 5)}, "rows (chunk 2 of 5)"},
		{Job{Type: TypeExport, Status: StatusFailed, StartedAt: &started, Delivery: &Delivery{Phase: "authenticate"}}, "delivery (authenticate)"},
		{Job{Type: TypeExport, Status: StatusFailed, StartedAt: &started, Delivery: &Delivery{Phase: "connect"}, FailedPhase: DeliveryPhase("connect")}, "delivery (connect)"},
		{Job{Type: TypeExport, Status: StatusFailed, StartedAt: &started, Delivery: &Delivery{Destination: "sftp://x"}}, PhaseExport},
		{Job{Type: TypeImport, Status: StatusCompleted, FailedPhase: PhaseRows}, ""},
	} {
		if got := FailurePhase(c.j); got != c.want {
			t.Errorf("FailurePhase(%s %s, started %v) = %q, want %q", c.j.Type, c.j.Status, c.j.StartedAt != nil, got, c.want)
		}
	}
}
