package importflow_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// faultyObjects fails the first Apply of every chunk in one of three ways:
// before writing anything, part-way (half the writes applied), or after
// writing everything (the Lambda dies before answering).
type faultyObjects struct {
	importflow.ObjectStore
	mode  string
	mu    *sync.Mutex
	fired map[string]bool // first key of a chunk's writes → fault fired
}

func (f faultyObjects) Apply(ctx context.Context, job string, writes []catalog.Write, conc int) ([]catalog.WriteResult, error) {
	if len(writes) == 0 {
		return f.ObjectStore.Apply(ctx, job, writes, conc)
	}
	f.mu.Lock()
	first := !f.fired[writes[0].Object.Key]
	f.fired[writes[0].Object.Key] = true
	f.mu.Unlock()
	if !first {
		return f.ObjectStore.Apply(ctx, job, writes, conc)
	}
	injected := bulkerr.New(bulkerr.Transient, "injected fault %s", f.mode)
	switch f.mode {
	case "before-write":
	case "part-way":
		if _, err := f.ObjectStore.Apply(ctx, job, writes[:(len(writes)+1)/2], conc); err != nil {
			return nil, err
		}
	case "after-write":
		if _, err := f.ObjectStore.Apply(ctx, job, writes, conc); err != nil {
			return nil, err
		}
	}
	return nil, injected
}

// objectState lists every object of tenant for the keys, without the
// fields that differ between tenants by nature (ID, times, job ID).
func objectState(t *testing.T, h *harness, tenant string, keys []string) string {
	t.Helper()
	objs, err := h.db.Objects(tenant).GetObjects(context.Background(), "work-type", keys)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for k, o := range objs {
		lines = append(lines, fmt.Sprintf("%s name=%q v%d %v", k, o.Name, o.Version, o.Fields))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestFaultInjectionMatchesAFaultFreeRun: a base file, then a file with
// updates, unchanged rows, creates and rejects, chunked by 4 rows. With a
// fault in every chunk's first write attempt (before writing, part-way,
// after writing, or after committing the chunk), the final objects equal a
// fault-free run item for item, the counts are exact and the lock is free.
func TestFaultInjectionMatchesAFaultFreeRun(t *testing.T) {
	h := newHarness(t, 4)
	ctx := context.Background()
	var base, next strings.Builder
	base.WriteString("Name,Description,Type\n")
	for i := range 10 {
		fmt.Fprintf(&base, "Code %02d,first,IDLE_CODE\n", i)
	}
	next.WriteString("Name,Description,Type\n")
	for i := range 5 { // updates
		fmt.Fprintf(&next, "Code %02d,second,\n", i)
	}
	for i := 5; i < 10; i++ { // unchanged
		fmt.Fprintf(&next, "Code %02d,,\n", i)
	}
	for i := 10; i < 20; i++ { // creates
		fmt.Fprintf(&next, "Code %02d,new,WRAP_UP_CODE\n", i)
	}
	next.WriteString("Code 21,bad,LUNCH\nCode 03,dup,IDLE_CODE\n,no name,IDLE_CODE\n") // rejects
	keys := make([]string, 22)
	for i := range keys {
		keys[i] = fmt.Sprintf("code %02d", i)
	}
	want := jobs.Counts{Total: 23, Processed: 23, Created: 10, Updated: 5, Unchanged: 5, Failed: 3}

	run := func(tenant string) jobs.Job {
		if j := h.run(h.upload(tenant, "work-type", "base.csv", []byte(base.String()), nil), nil); j.Status != jobs.StatusCompleted {
			t.Fatalf("%s base: %s %q", tenant, j.Status, j.Message)
		}
		return h.run(h.upload(tenant, "work-type", "next.csv", []byte(next.String()), nil), nil)
	}
	clean := run("clean")
	if clean.Status != jobs.StatusCompletedWithErrs || clean.Counts != want {
		t.Fatalf("fault-free run: %s %+v, want %+v", clean.Status, clean.Counts, want)
	}
	cleanState := objectState(t, h, "clean", keys)

	origObjects, origProgress := h.flow.Objects, h.flow.Progress
	defer func() { h.flow.Objects, h.flow.Progress = origObjects, origProgress }()
	for _, mode := range []string{"before-write", "part-way", "after-write", "after-commit"} {
		t.Run(mode, func(t *testing.T) {
			tenant := "fault-" + mode
			var mu sync.Mutex
			fired := map[string]bool{}
			h.flow.Objects, h.flow.Progress = origObjects, origProgress
			got := func() jobs.Job {
				if mode == "after-commit" {
					// Run the base file without faults, then fail the first
					// answer of every chunk after its commit.
					if j := h.run(h.upload(tenant, "work-type", "base.csv", []byte(base.String()), nil), nil); j.Status != jobs.StatusCompleted {
						t.Fatalf("base: %s", j.Status)
					}
					return h.run(h.upload(tenant, "work-type", "next.csv", []byte(next.String()), nil), func(c importflow.ChunkRef) error {
						mu.Lock()
						defer mu.Unlock()
						if fired[fmt.Sprint(c.Index)] {
							return nil
						}
						fired[fmt.Sprint(c.Index)] = true
						if _, err := h.flow.ProcessChunk(ctx, mustJob(t, h, tenant), c); err != nil {
							t.Fatalf("first attempt: %v", err)
						}
						return fmt.Errorf("injected after commit")
					})
				}
				h.flow.Objects = func(tn string) importflow.ObjectStore {
					if tn != tenant {
						return origObjects(tn)
					}
					return faultyObjects{ObjectStore: origObjects(tn), mode: mode, mu: &mu, fired: fired}
				}
				return run(tenant)
			}()
			if got.Status != clean.Status || got.Counts != want {
				t.Fatalf("with faults: %s %+v, want %s %+v", got.Status, got.Counts, clean.Status, want)
			}
			if len(fired) == 0 {
				t.Fatal("no fault fired; the test exercises nothing")
			}
			if state := objectState(t, h, tenant, keys); state != cleanState {
				t.Fatalf("objects differ from the fault-free run:\n got %s\nwant %s", state, cleanState)
			}
			l, err := h.db.AcquireLock(ctx, tenant, "probe", time.Minute)
			if err != nil || !l.Acquired {
				t.Fatalf("lock not released: %+v %v", l, err)
			}
			if err := h.db.ReleaseLock(ctx, tenant, "probe"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStaleHolderLosesTheLockAfterItsLease: a job that stops extending its
// lease (a crashed run) blocks the tenant only until the lease ends; the
// next job then takes the lock, and the stale job can no longer extend it.
func TestStaleHolderLosesTheLockAfterItsLease(t *testing.T) {
	h := newHarness(t, 1000)
	h.flow.Config.LockLease = 2 * time.Second
	ctx := context.Background()
	start := func(name string) importflow.JobRef {
		sr, err := h.flow.Start(ctx, h.upload("lease", "work-type", name, sample(t), nil))
		if err != nil {
			t.Fatal(err)
		}
		return sr.Job
	}
	stale, next := start("a.csv"), start("b.csv")
	if ls, err := h.flow.AcquireLock(ctx, stale, importflow.LockState{}); err != nil || !ls.Acquired {
		t.Fatalf("first job: %+v %v", ls, err)
	}
	ls, err := h.flow.AcquireLock(ctx, next, importflow.LockState{})
	if err != nil || ls.Acquired || ls.Holder != stale.JobID {
		t.Fatalf("second job while the first holds the lock: %+v %v; want to wait for %s", ls, err, stale.JobID)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !ls.Acquired {
		if time.Now().After(deadline) {
			t.Fatal("the lock was never freed by the lease")
		}
		time.Sleep(250 * time.Millisecond)
		if ls, err = h.flow.AcquireLock(ctx, next, ls); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.flow.Prepare(ctx, stale); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("stale job went on after losing its lease: %v", err)
	}
	if err := h.flow.Locks.ReleaseLock(ctx, "lease", stale.JobID); err != nil {
		t.Fatal(err)
	}
	if l, err := h.db.AcquireLock(ctx, "lease", "probe", time.Minute); err != nil || l.Acquired {
		t.Fatalf("the stale job released the lock it no longer holds: %+v %v", l, err)
	}
	if err := h.flow.Locks.ReleaseLock(ctx, "lease", next.JobID); err != nil {
		t.Fatal(err)
	}
}
