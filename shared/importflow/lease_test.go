package importflow_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// fakeClock is the flow's clock; each read of the upload moves it on.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// slowReads serves the upload 4 KB per Read, each taking step of the
// fake clock: a scan that takes minutes of its clock.
type slowReads struct {
	*s3store.Store
	clock *fakeClock
	step  time.Duration
}

type slowBody struct {
	io.ReadCloser
	clock *fakeClock
	step  time.Duration
}

func (b slowBody) Read(p []byte) (int, error) {
	b.clock.add(b.step)
	return b.ReadCloser.Read(p[:min(len(p), 4096)])
}

func (s slowReads) Open(ctx context.Context, key, version string) (io.ReadCloser, error) {
	body, err := s.Store.Open(ctx, key, version)
	if err != nil || !strings.HasPrefix(key, "imports/") {
		return body, err
	}
	return slowBody{ReadCloser: body, clock: s.clock, step: s.step}, nil
}

// countingLocks counts lease extensions; onExtend, if set, runs before
// each.
type countingLocks struct {
	*dynamostore.Store
	mu       sync.Mutex
	extends  []time.Time // the flow clock's time of each
	clock    *fakeClock
	onExtend func(n int)
}

func (l *countingLocks) ExtendLock(ctx context.Context, tenant, job string, lease time.Duration) error {
	l.mu.Lock()
	l.extends = append(l.extends, l.clock.Now())
	n := len(l.extends)
	l.mu.Unlock()
	if l.onExtend != nil {
		l.onExtend(n)
	}
	return l.Store.ExtendLock(ctx, tenant, job, lease)
}

// TestPrepareRenewsItsLeaseWhileItScans: a scan that takes over 10 minutes of
// the flow's clock (a large file) renews the 300 s lease every 100 s
// (a third of it), never letting it run out; when a renewal finds the lock
// taken by another job (its lease had run out), Prepare stops with the
// lock-lost Conflict and leaves the job New.
func TestPrepareRenewsItsLeaseWhileItScans(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := context.Background()
	clock := &fakeClock{now: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	h.flow.Now = clock.Now
	h.flow.Config.LockLease = 300 * time.Second
	h.flow.Files = slowReads{Store: h.files, clock: clock, step: 20 * time.Second}
	locks := &countingLocks{Store: h.db, clock: clock}
	h.flow.Locks = locks
	defer func() { h.flow.Files, h.flow.Locks, h.flow.Now = h.files, h.db, time.Now }()

	body := "Name,Description,Type\n" + codes(4000, 0, "IDLE_CODE") // about 45 reads of 4 KB
	for _, lost := range []bool{false, true} {
		tenant := map[bool]string{false: "lease-kept", true: "lease-lost"}[lost]
		sr, err := h.flow.Start(ctx, h.upload(tenant, "work-type", "big.csv", []byte(body), nil))
		if err != nil {
			t.Fatal(err)
		}
		if ls, err := h.flow.AcquireLock(ctx, sr.Job, importflow.LockState{}); err != nil || !ls.Acquired {
			t.Fatal(ls, err)
		}
		locks.extends, locks.onExtend = nil, nil
		if lost {
			locks.onExtend = func(n int) {
				if n == 3 { // the lease "ran out" and another job took the tenant
					if err := h.db.ReleaseLock(ctx, tenant, sr.Job.JobID); err != nil {
						t.Error(err)
					}
					if l, err := h.db.AcquireLock(ctx, tenant, "01OTHERJOB0000000000000000", time.Minute); err != nil || !l.Acquired {
						t.Error(l, err)
					}
				}
			}
		}
		start := clock.Now()
		_, err = h.flow.Prepare(ctx, sr.Job)
		took := clock.Now().Sub(start)
		j, gerr := h.db.GetJob(ctx, tenant, sr.Job.JobID)
		if gerr != nil {
			t.Fatal(gerr)
		}
		if lost {
			if bulkerr.KindOf(err) != bulkerr.Conflict || !strings.Contains(err.Error(), "lost the tenant lock") {
				t.Fatalf("Prepare after losing the lock: %v, want the lock-lost Conflict", err)
			}
			if len(locks.extends) != 3 || j.Status != jobs.StatusNew {
				t.Fatalf("after the lost lock: %d extensions, job %s; want 3 and New", len(locks.extends), j.Status)
			}
			continue
		}
		if err != nil || j.Status != jobs.StatusInProgress {
			t.Fatalf("Prepare: %v, job %s", err, j.Status)
		}
		if took < 2*h.flow.Config.LockLease {
			t.Fatalf("the scan took %s of the clock; the test wants a scan longer than the lease", took)
		}
		// The first extension at the start, then one at least every
		// 100 s of the clock: no gap reaches the lease.
		prev := start
		for i, at := range append(locks.extends, clock.Now()) {
			if gap := at.Sub(prev); gap > 100*time.Second+20*time.Second {
				t.Fatalf("extension %d came %s after the one before (lease 300 s, renewal every 100 s)", i, gap)
			}
			prev = at
		}
		if n := len(locks.extends); n < int(took/(100*time.Second)) {
			t.Fatalf("%d extensions in %s", n, took)
		}
		t.Logf("scan of %s (flow clock): %d lease extensions", took, len(locks.extends))
	}
}
