package importflow

import (
	"context"
	"io"
	"time"
)

// leaseKeeper renews a job's tenant lock while a step works on it: every
// Config.LockLease/3 (by the flow's clock), so the lease never runs out
// under a step that runs longer than it (Prepare may run 900 s, the lease
// is 300 s). A renewal that fails (the job lost the lock: Conflict) stops
// the step with that error, so two bulk operations never run at once.
type leaseKeeper struct {
	f    *Flow
	j    JobRef
	last time.Time
	err  error
}

// keepLease returns a keeper for j whose lease was just extended.
func (f *Flow) keepLease(j JobRef) *leaseKeeper {
	return &leaseKeeper{f: f, j: j, last: f.Now()}
}

// renew extends the lease if a third of it has passed since the last
// extension. After a failed renewal it keeps returning that error.
func (k *leaseKeeper) renew(ctx context.Context) error {
	if k.err != nil {
		return k.err
	}
	now := k.f.Now()
	if now.Sub(k.last) < k.f.Config.LockLease/3 {
		return nil
	}
	if err := k.f.Locks.ExtendLock(ctx, k.j.Tenant, k.j.JobID, k.f.Config.LockLease); err != nil {
		k.err = err
		return err
	}
	k.last = now
	return nil
}

// leaseReader renews the lease as a step reads: every Read checks the
// keeper first, so a scan of a large file keeps its lock (and stops when it
// lost it).
type leaseReader struct {
	ctx context.Context
	r   io.Reader
	k   *leaseKeeper
}

func (l leaseReader) Read(p []byte) (int, error) {
	if err := l.k.renew(l.ctx); err != nil {
		return 0, err
	}
	return l.r.Read(p)
}
