package dynamostore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportspec"
)

// TestShardOfSpreadsKeysEvenlyAndNeverChanges: 100,000 generated keys land
// within 3% of the mean in every shard, and known keys keep their shards
// (a changed hash would lose every stored object).
func TestShardOfSpreadsKeysEvenlyAndNeverChanges(t *testing.T) {
	const keys = 100_000
	var per [dynamostore.Shards]int
	for i := range keys {
		per[dynamostore.ShardOf(fmt.Sprintf("code %07d", i))]++
	}
	mean := keys / dynamostore.Shards
	for sh, c := range per {
		if c < mean*97/100 || c > mean*103/100 {
			t.Errorf("shard %d holds %d keys, mean %d", sh, c, mean)
		}
	}
	for k, want := range map[string]int{"boston": 4, "code 0000000": 4, "sales#tier 1": 3, "": 5} {
		if got := dynamostore.ShardOf(k); got != want {
			t.Errorf("ShardOf(%q) = %d, want %d: the hash must never change", k, got, want)
		}
	}
}

func workType(name, desc string, prev int64) catalog.Write {
	return catalog.Write{PrevVersion: prev, Object: catalog.Object{Type: "work-type", Key: lower(name), ID: "id-" + name, Name: name,
		Fields: map[string]string{"name": name, "description": desc, "type": "IDLE_CODE"}}}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// listing is what Each returns, as comparable lines (no IDs or times).
func listing(t *testing.T, o *dynamostore.Objects) []string {
	t.Helper()
	var got []string
	if err := o.Each(context.Background(), "work-type", func(ob catalog.Object) error {
		got = append(got, fmt.Sprintf("%s %s v%d %v", ob.Key, ob.Name, ob.Version, ob.Fields))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestShardedObjectsListMergedByKey: 700 objects written in a random order
// (differently for two tenants) are spread over every shard; Each returns
// them in key order, the same for both tenants (exports stay
// deterministic); Count and GetObjects (more than one batch) find them all;
// EachUpdated of an open window returns the same; a limit-style early stop
// ends the parallel reads.
func TestShardedObjectsListMergedByKey(t *testing.T) {
	db, clk := newStore(t)
	st := localtest.Require(t)
	ctx := context.Background()
	const n = 700
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("Code %04d", i)
	}
	for _, tenant := range []string{"ta", "tb"} {
		order := slices.Clone(names)
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var ws []catalog.Write
		for _, name := range order {
			ws = append(ws, workType(name, "d "+name, 0))
		}
		clk.advance(time.Second)
		if _, err := db.Objects(tenant).Apply(ctx, "job-"+tenant, ws, 8); err != nil {
			t.Fatal(err)
		}
	}
	a, b := listing(t, db.Objects("ta")), listing(t, db.Objects("tb"))
	if len(a) != n || !slices.Equal(a, b) {
		t.Fatalf("listings differ or are short: %d and %d lines", len(a), len(b))
	}
	if !sort.StringsAreSorted(a) {
		t.Fatal("Each is not in key order")
	}
	// Every shard holds some of them, under its own partition key.
	for sh := range dynamostore.Shards {
		pk := fmt.Sprintf("ta#work-type#%02x", sh)
		out, err := st.Clients.DynamoDB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(db.TableNames().Objects),
			KeyConditionExpression:    aws.String("pk = :p"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":p": &ddbtypes.AttributeValueMemberS{Value: pk}},
			Select:                    ddbtypes.SelectCount})
		if err != nil {
			t.Fatal(err)
		}
		if out.Count < n/dynamostore.Shards/2 {
			t.Errorf("shard %s holds %d of %d objects", pk, out.Count, n)
		}
	}
	if c, err := db.Objects("ta").Count(ctx, "work-type"); err != nil || c != n {
		t.Fatalf("Count = %d, %v; want %d", c, err, n)
	}
	keys := make([]string, n)
	for i, name := range names {
		keys[i] = lower(name)
	}
	got, err := db.Objects("ta").GetObjects(ctx, "work-type", keys)
	if err != nil || len(got) != n {
		t.Fatalf("GetObjects found %d of %d: %v", len(got), n, err)
	}
	// EachUpdated of an open window: every object, in key order (the
	// order Each gives), the same for both tenants.
	for _, tenant := range []string{"ta", "tb"} {
		var upd []string
		if err := db.Objects(tenant).EachUpdated(ctx, "work-type", exportspec.Window{}, func(ob catalog.Object) error {
			upd = append(upd, fmt.Sprintf("%s %s v%d %v", ob.Key, ob.Name, ob.Version, ob.Fields))
			return nil
		}); err != nil || !slices.Equal(upd, a) {
			t.Fatalf("EachUpdated of %s: %d lines, not Each's %d (%v)", tenant, len(upd), len(a), err)
		}
	}
	// Stopping early ends the shard readers (the test would hang or leak
	// otherwise).
	stop := fmt.Errorf("enough")
	k := 0
	if err := db.Objects("ta").Each(ctx, "work-type", func(catalog.Object) error {
		if k++; k == 10 {
			return stop
		}
		return nil
	}); err != stop {
		t.Fatalf("early stop: %v", err)
	}
}

// TestWritePathsAreExactUnderRetries: with every conditional write path, a
// batch that mixes writes this job already applied, a write someone else
// changed underneath, and new writes gives AlreadyApplied, Conflicted and
// Applied, and writes exactly the new ones, once. The fenced path: see
// fencedExactUnderRetries.
func TestWritePathsAreExactUnderRetries(t *testing.T) {
	base, clk := newStore(t)
	ctx := context.Background()
	t.Run(dynamostore.WriteFenced.String(), func(t *testing.T) { fencedExactUnderRetries(t, base, clk) })
	for _, path := range []dynamostore.WritePath{dynamostore.WriteEach, dynamostore.WriteTransact, dynamostore.WriteStatements} {
		t.Run(path.String(), func(t *testing.T) {
			db := base.WithWritePath(path)
			tenant := "exact-" + path.String()
			objs := db.Objects(tenant)
			// 150 objects (two transactions' worth) exist at version 1.
			var first []catalog.Write
			for i := range 150 {
				first = append(first, workType(fmt.Sprintf("W %03d", i), "one", 0))
			}
			if _, err := objs.Apply(ctx, "job-1", first, 4); err != nil {
				t.Fatal(err)
			}
			// job-2 updates all 150 and creates 50; its first attempt got
			// through the first 120 updates before it died.
			var second []catalog.Write
			for i := range 150 {
				second = append(second, workType(fmt.Sprintf("W %03d", i), "two", 1))
			}
			for i := 150; i < 200; i++ {
				second = append(second, workType(fmt.Sprintf("W %03d", i), "new", 0))
			}
			if _, err := objs.Apply(ctx, "job-2", second[:120], 4); err != nil {
				t.Fatal(err)
			}
			// Meanwhile someone else moved W 130 on to version 2.
			if r, err := objs.Apply(ctx, "other", []catalog.Write{workType("W 130", "other", 1)}, 1); err != nil || r[0] != catalog.Applied {
				t.Fatalf("other write: %v %v", r, err)
			}
			res, err := objs.Apply(ctx, "job-2", second, 4)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				want := catalog.Applied
				switch {
				case i < 120:
					want = catalog.AlreadyApplied
				case i == 130:
					want = catalog.Conflicted
				}
				if r != want {
					t.Errorf("write %d (%s): %v, want %v", i, second[i].Object.Key, r, want)
				}
			}
			keys := make([]string, 200)
			for i := range keys {
				keys[i] = second[i].Object.Key
			}
			got, err := objs.GetObjects(ctx, "work-type", keys)
			if err != nil {
				t.Fatal(err)
			}
			for i, k := range keys {
				o := got[k]
				want, wantV, wantJob := "two", int64(2), "job-2"
				switch {
				case i == 130:
					want, wantJob = "other", "other"
				case i >= 150:
					want, wantV = "new", 1
				}
				if o.Fields["description"] != want || o.Version != wantV || o.JobID != wantJob {
					t.Errorf("%s: %q v%d by %s, want %q v%d by %s", k, o.Fields["description"], o.Version, o.JobID, want, wantV, wantJob)
				}
			}
		})
	}
}

// TestEachUpdatedWindowsOverShards writes 600 work types in one import and,
// an hour later, a second import of 40 updates and 25 creates, each in a
// random order (a different one for each of two tenants), with a clock that
// stands still (so the writes of one import are a nanosecond apart). For
// every window, with pages of 7 items a shard (pages whose items are all
// outside the window, pages that end inside it) and with the default pages,
// EachUpdated returns exactly the objects whose last write is in the window
// (From inclusive, To exclusive), each once, in key order; for windows of
// whole imports, the same lines for both tenants.
func TestEachUpdatedWindowsOverShards(t *testing.T) {
	db, clk := newStore(t)
	ctx := context.Background()
	run := fmt.Sprintf("%d", time.Now().UnixNano()) // fresh tenants on a reused stack
	t1 := clk.now().Add(time.Hour)
	t2 := t1.Add(time.Hour)
	first := make([]string, 600)
	for i := range first {
		first[i] = fmt.Sprintf("Code %04d", i)
	}
	var updated, created []string
	for i := 0; i < 600; i += 15 {
		updated = append(updated, first[i])
	}
	for i := range 25 {
		created = append(created, fmt.Sprintf("Late %04d", i))
	}
	tenants := []string{"wa" + run, "wb" + run}
	// written[tenant][key] is each object's last write time, from the
	// write order and the clock.
	written := map[string]map[string]time.Time{}
	apply := func(tenant, job string, at time.Time, ws []catalog.Write) {
		t.Helper()
		rand.Shuffle(len(ws), func(i, j int) { ws[i], ws[j] = ws[j], ws[i] })
		clk.set(at)
		res, err := db.Objects(tenant).Apply(ctx, job, ws, 8)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r != catalog.Applied {
				t.Fatalf("%s write %d: %v", job, i, r)
			}
			written[tenant][ws[i].Object.Key] = at.Add(time.Duration(i) * time.Nanosecond)
		}
	}
	for _, tenant := range tenants {
		written[tenant] = map[string]time.Time{}
		var ws []catalog.Write
		for _, name := range first {
			ws = append(ws, workType(name, "first", 0))
		}
		apply(tenant, "first", t1, ws)
		ws = nil
		for _, name := range updated {
			ws = append(ws, workType(name, "second", 1))
		}
		for _, name := range created {
			ws = append(ws, workType(name, "second", 0))
		}
		apply(tenant, "second", t2, ws)
	}
	last := t2.Add(time.Duration(len(updated)+len(created)-1) * time.Nanosecond)
	// want is the count; same says the window takes whole imports, so the
	// two tenants' objects are the same lines. Windows that cut an import
	// at a nanosecond take objects that depend on the write order: the
	// model (written) says which, and for the first import's first write
	// even how many (it may be one the second import updated: want -1).
	windows := []struct {
		name string
		w    exportspec.Window
		want int
		same bool
	}{
		{"open", exportspec.Window{}, 625, true},
		{"second import on", exportspec.Window{From: t2}, 65, true},
		{"between the imports", exportspec.Window{From: t1.Add(time.Minute), To: t2.Add(-time.Minute)}, 0, true},
		{"first import only", exportspec.Window{From: t1, To: t2}, 560, true},
		{"up to the second import", exportspec.Window{To: t2}, 560, true},
		{"first import from its second write", exportspec.Window{From: t1.Add(time.Nanosecond), To: t2}, -1, false},
		{"second import without its first write", exportspec.Window{From: t2.Add(time.Nanosecond)}, 64, false},
		{"second import without its last write", exportspec.Window{From: t2, To: last}, 64, false},
		{"the last write only", exportspec.Window{From: last, To: last.Add(time.Nanosecond)}, 1, false},
		{"empty", exportspec.Window{From: t2, To: t2}, 0, true},
		{"reversed", exportspec.Window{From: t2, To: t1}, 0, true},
	}
	for _, page := range []int{7, 0} {
		for _, c := range windows {
			t.Run(fmt.Sprintf("page %d/%s", page, c.name), func(t *testing.T) {
				var lines [][]string
				for _, tenant := range tenants {
					var want []string
					for k, at := range written[tenant] {
						if c.w.Contains(at) {
							want = append(want, k)
						}
					}
					sort.Strings(want)
					var got, line []string
					err := db.WithPageItems(page).Objects(tenant).EachUpdated(ctx, "work-type", c.w, func(ob catalog.Object) error {
						if !c.w.Contains(ob.UpdatedAt) || !ob.UpdatedAt.Equal(written[tenant][ob.Key]) {
							return fmt.Errorf("%s written at %s, outside the window or not its last write", ob.Key, ob.UpdatedAt.Format(time.RFC3339Nano))
						}
						got = append(got, ob.Key)
						line = append(line, fmt.Sprintf("%s v%d %v", ob.Key, ob.Version, ob.Fields))
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					if (c.want >= 0 && len(want) != c.want) || !slices.Equal(got, want) {
						t.Fatalf("%s: %d objects, want %d (%d by the model); first %v", tenant, len(got), c.want, len(want), got[:min(3, len(got))])
					}
					lines = append(lines, line)
				}
				if c.same && !slices.Equal(lines[0], lines[1]) {
					t.Fatal("the two tenants' objects differ")
				}
			})
		}
	}
}

// fencedExactUnderRetries is TestWritePathsAreExactUnderRetries for the
// fenced path, where only the lock holder writes: job-1 creates 150
// objects and releases the lock; a writer without the lock is refused and
// writes nothing; job-2 takes the lock, updates the 150 and creates 50, its
// first attempt dying after 120, and its retry writes all 200 again. Every
// object ends as job-2 decided, at the decided version (2, or 1 for a
// create): nothing is applied twice and nothing of the refused writer
// lands.
func fencedExactUnderRetries(t *testing.T, base *dynamostore.Store, clk *clock) {
	ctx := context.Background()
	db := base.WithWritePath(dynamostore.WriteFenced)
	tenant := "exact-" + dynamostore.WriteFenced.String()
	objs := db.Objects(tenant)
	lock := func(job string) {
		t.Helper()
		if l, err := db.AcquireLock(ctx, tenant, job, time.Minute); err != nil || !l.Acquired {
			t.Fatalf("%s: lock %+v %v", job, l, err)
		}
		clk.advance(dynamostore.FenceWindow + dynamostore.LockDelay + time.Second) // past any lock-delay
	}
	var first []catalog.Write
	for i := range 150 {
		first = append(first, workType(fmt.Sprintf("W %03d", i), "one", 0))
	}
	lock("job-1")
	if _, err := objs.Apply(ctx, "job-1", first, 4); err != nil {
		t.Fatal(err)
	}
	if err := db.ReleaseLock(ctx, tenant, "job-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := objs.Apply(ctx, "job-1", first[:1], 1); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("job-1 wrote after its release: %v", err)
	}
	var second []catalog.Write
	for i := range 150 {
		second = append(second, workType(fmt.Sprintf("W %03d", i), "two", 1))
	}
	for i := 150; i < 200; i++ {
		second = append(second, workType(fmt.Sprintf("W %03d", i), "new", 0))
	}
	lock("job-2")
	if _, err := objs.Apply(ctx, "job-2", second[:120], 4); err != nil {
		t.Fatal(err)
	}
	// A writer that does not hold the lock is refused and writes nothing.
	if _, err := objs.Apply(ctx, "other", []catalog.Write{workType("W 130", "other", 1)}, 1); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("a writer without the lock: %v, want Conflict", err)
	}
	res, err := objs.Apply(ctx, "job-2", second, 4) // the retry
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r != catalog.Applied {
			t.Errorf("write %d: %v, want Applied", i, r)
		}
	}
	keys := make([]string, 200)
	for i := range keys {
		keys[i] = second[i].Object.Key
	}
	got, err := objs.GetObjects(ctx, "work-type", keys)
	if err != nil || len(got) != 200 {
		t.Fatalf("%d objects, %v", len(got), err)
	}
	for i, k := range keys {
		o := got[k]
		want, wantV := "two", int64(2)
		if i >= 150 {
			want, wantV = "new", 1
		}
		if o.Fields["description"] != want || o.Version != wantV || o.JobID != "job-2" || o.ID != "id-"+second[i].Object.Name {
			t.Errorf("%s: %q v%d by %s (%s), want %q v%d by job-2", k, o.Fields["description"], o.Version, o.JobID, o.ID, want, wantV)
		}
	}
	if err := db.ReleaseLock(ctx, tenant, "job-2"); err != nil {
		t.Fatal(err)
	}
}
