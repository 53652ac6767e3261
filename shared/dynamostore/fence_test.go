package dynamostore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/config"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
)

// TestShortestLeaseOutlastsTheFence: the shortest lease configuration
// accepts leaves a writer, which renews once a third of its lease has
// passed, at least 10 s of lease beyond the fence's window and margin, so a
// configured lease can never make the fence refuse every write.
func TestShortestLeaseOutlastsTheFence(t *testing.T) {
	left := config.MinLockLease*2/3 - dynamostore.FenceWindow - dynamostore.FenceMargin
	if left < 10*time.Second {
		t.Errorf("a %s lease leaves %s after the fence's %s window and %s margin, want at least 10s",
			config.MinLockLease, left, dynamostore.FenceWindow, dynamostore.FenceMargin)
	}
}

// TestFencedWriteRefusesAStaleHolder: on the fenced BatchWriteItem path a
// job writes only while it holds its tenant's lock with a lease that
// outlasts a write window. Its writes are refused (Conflict, nothing
// written) when the lease is about to end, once it has ended, and after
// another job took the lock over; the new holder's writes stand.
func TestFencedWriteRefusesAStaleHolder(t *testing.T) {
	base, clk := newStore(t)
	db := base.WithWritePath(dynamostore.WriteFenced)
	ctx := context.Background()
	objs := db.Objects("stale")
	lease := 10 * time.Second
	if l, err := db.AcquireLock(ctx, "stale", "job-a", lease); err != nil || !l.Acquired {
		t.Fatalf("lock: %+v %v", l, err)
	}
	if _, err := objs.Apply(ctx, "job-a", []catalog.Write{workType("X", "a", 0)}, 1); err != nil {
		t.Fatalf("the holder's write: %v", err)
	}
	check := func(want string, wantV int64, wantJob string) {
		t.Helper()
		got, err := objs.GetObjects(ctx, "work-type", []string{"x"})
		if err != nil {
			t.Fatal(err)
		}
		if o := got["x"]; o.Fields["description"] != want || o.Version != wantV || o.JobID != wantJob {
			t.Fatalf("x = %q v%d by %s, want %q v%d by %s", o.Fields["description"], o.Version, o.JobID, want, wantV, wantJob)
		}
	}
	check("a", 1, "job-a")
	refused := func(when string, job, desc string) {
		t.Helper()
		_, err := objs.Apply(ctx, job, []catalog.Write{workType("X", desc, 1), workType("Y", desc, 0)}, 1)
		if bulkerr.KindOf(err) != bulkerr.Conflict {
			t.Fatalf("%s: %s's write = %v, want Conflict", when, job, err)
		}
		if got, err := objs.GetObjects(ctx, "work-type", []string{"y"}); err != nil || len(got) != 0 {
			t.Fatalf("%s: a refused write left %v (%v)", when, got, err)
		}
	}
	// Less than a window and its margin left of the lease.
	clk.advance(lease - dynamostore.FenceWindow - dynamostore.FenceMargin + 100*time.Millisecond)
	refused("lease nearly over", "job-a", "late")
	// The lease ended; nobody took the lock yet.
	clk.advance(dynamostore.FenceWindow + dynamostore.FenceMargin)
	refused("lease over", "job-a", "late")
	check("a", 1, "job-a")
	// job-b takes the lock over, waits out the lock-delay and writes.
	if l, err := db.AcquireLock(ctx, "stale", "job-b", time.Minute); err != nil || !l.Acquired {
		t.Fatalf("takeover: %+v %v", l, err)
	}
	clk.advance(dynamostore.LockDelay + time.Second)
	if _, err := objs.Apply(ctx, "job-b", []catalog.Write{workType("X", "b", 1)}, 1); err != nil {
		t.Fatalf("the new holder's write: %v", err)
	}
	// The stale holder, still running, tries to write its decisions.
	refused("after the takeover", "job-a", "late")
	check("b", 2, "job-b")
	if err := db.ExtendLock(ctx, "stale", "job-a", lease); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("the stale holder's extend = %v, want Conflict", err)
	}
	if err := db.ReleaseLock(ctx, "stale", "job-b"); err != nil {
		t.Fatal(err)
	}
}

// lockMillis reads a number attribute of tenant's lock item.
func lockMillis(t *testing.T, st *localtest.Stack, tenant, name string) time.Time {
	t.Helper()
	out, err := st.Clients.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(st.Ref("ControlTable")), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "LOCK#" + tenant},
			"sk": &ddbtypes.AttributeValueMemberS{Value: "LOCK"}}})
	if err != nil {
		t.Fatal(err)
	}
	v, ok := out.Item[name].(*ddbtypes.AttributeValueMemberN)
	if !ok {
		t.Fatalf("lock item of %s has no %s: %v", tenant, name, out.Item)
	}
	ms, _ := strconv.ParseInt(v.Value, 10, 64)
	return time.UnixMilli(ms)
}

// TestTakeoverWaitsTheLockDelay, on the real clock: a job that takes over
// a lock whose lease expired neither extends (the step that decides) nor
// writes before LockDelay past the old lease's end; one that takes a lock
// right after its holder wrote and released it writes only LockDelay past
// the old holder's last write window; a lock taken fresh has no delay.
func TestTakeoverWaitsTheLockDelay(t *testing.T) {
	st := localtest.Require(t)
	st.Provision(t)
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, time.Now).WithWritePath(dynamostore.WriteFenced)
	ctx := context.Background()
	acquire := func(tenant, job string, lease time.Duration) {
		t.Helper()
		if l, err := db.AcquireLock(ctx, tenant, job, lease); err != nil || !l.Acquired {
			t.Fatalf("%s/%s: %+v %v", tenant, job, l, err)
		}
	}
	write := func(tenant, job, name string) {
		t.Helper()
		if _, err := db.Objects(tenant).Apply(ctx, job, []catalog.Write{workType(name, job, 0)}, 1); err != nil {
			t.Fatalf("%s/%s writes %s: %v", tenant, job, name, err)
		}
	}

	t.Run("fresh", func(t *testing.T) {
		acquire("delay-fresh", "job-a", time.Minute)
		start := time.Now()
		if err := db.ExtendLock(ctx, "delay-fresh", "job-a", time.Minute); err != nil {
			t.Fatal(err)
		}
		write("delay-fresh", "job-a", "A")
		if el := time.Since(start); el >= dynamostore.LockDelay {
			t.Fatalf("a fresh lock waited %s", el)
		}
	})

	t.Run("expired", func(t *testing.T) {
		lease := dynamostore.FenceWindow + dynamostore.FenceMargin + time.Second
		acquire("delay-expired", "job-a", lease)
		write("delay-expired", "job-a", "A")
		oldEnd := lockMillis(t, st, "delay-expired", "leaseUntil")
		time.Sleep(time.Until(oldEnd) + 50*time.Millisecond)
		acquire("delay-expired", "job-b", time.Minute)
		if got := lockMillis(t, st, "delay-expired", "prevLeaseUntil"); !got.Equal(oldEnd) {
			t.Fatalf("prevLeaseUntil = %s, want the old lease's end %s", got, oldEnd)
		}
		if err := db.ExtendLock(ctx, "delay-expired", "job-b", time.Minute); err != nil {
			t.Fatal(err)
		}
		if now, quiet := time.Now(), oldEnd.Add(dynamostore.LockDelay); now.Before(quiet) {
			t.Fatalf("ExtendLock after a takeover returned at %s, %s before the lock-delay ends", now, quiet.Sub(now))
		}
		write("delay-expired", "job-b", "B")
	})

	t.Run("released", func(t *testing.T) {
		acquire("delay-released", "job-a", time.Minute)
		write("delay-released", "job-a", "A")
		lastWindow := lockMillis(t, st, "delay-released", "writeUntil")
		if err := db.ReleaseLock(ctx, "delay-released", "job-a"); err != nil {
			t.Fatal(err)
		}
		acquire("delay-released", "job-b", time.Minute) // at once: the lock is free
		write("delay-released", "job-b", "B")           // but the write waits
		if now, quiet := time.Now(), lastWindow.Add(dynamostore.LockDelay); now.Before(quiet) {
			t.Fatalf("the write after a release returned at %s, %s before the lock-delay past the old holder's window", now, quiet.Sub(now))
		}
	})
}

// TestFencedWritesAreStampedInTheirWave: on the fenced path an object's
// updatedAt is taken after the fence check of the wave that sends it, so
// it is stored within FenceWindow of its stamp however long the earlier
// waves took. The store's clock here moves a millisecond at every reading
// (the whole chunk is stamped before the first check if stamps are taken
// as the puts are made ready): the objects of the last of the chunk's three
// waves must carry stamps after that wave's check (the lock item's
// writeUntil less FenceWindow), stamps strictly increase in the order of
// the writes, and a create's createdAt is its updatedAt.
func TestFencedWritesAreStampedInTheirWave(t *testing.T) {
	st := localtest.Require(t)
	st.Provision(t)
	var mu sync.Mutex
	tick := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); tick = tick.Add(time.Millisecond); return tick }
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, now).WithWritePath(dynamostore.WriteFenced)
	ctx := context.Background()
	const tenant, n = "stamped", 1000
	if l, err := db.AcquireLock(ctx, tenant, "job-s", 10_000*time.Hour); err != nil || !l.Acquired {
		t.Fatalf("lock: %+v %v", l, err)
	}
	writes := make([]catalog.Write, n)
	keys := make([]string, n)
	for i := range writes {
		writes[i] = workType(fmt.Sprintf("W%04d", i), "d", 0)
		keys[i] = writes[i].Object.Key
	}
	if _, err := db.Objects(tenant).Apply(ctx, "job-s", writes, 16); err != nil {
		t.Fatal(err)
	}
	lastCheck := lockMillis(t, st, tenant, "writeUntil").Add(-dynamostore.FenceWindow)
	var prev time.Time
	for start := 0; start < n; start += 100 {
		got, err := db.Objects(tenant).GetObjects(ctx, "work-type", keys[start:start+100])
		if err != nil {
			t.Fatal(err)
		}
		for i := start; i < start+100; i++ {
			o, ok := got[keys[i]]
			if !ok {
				t.Fatalf("%s was not written", keys[i])
			}
			if !o.UpdatedAt.After(prev) {
				t.Fatalf("%s: updatedAt %s not after the previous write's %s", keys[i], o.UpdatedAt, prev)
			}
			prev = o.UpdatedAt
			if !o.CreatedAt.Equal(o.UpdatedAt) {
				t.Errorf("%s: createdAt %s, updatedAt %s: a create's are the same", keys[i], o.CreatedAt, o.UpdatedAt)
			}
			if i >= 2*dynamostore.FencedInFlight*dynamostore.BatchWriteMax && !o.UpdatedAt.After(lastCheck) {
				t.Fatalf("%s (last wave): updatedAt %s is before its wave's fence check at %s", keys[i], o.UpdatedAt, lastCheck)
			}
		}
	}
}
