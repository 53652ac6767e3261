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
// EachUpdated returns them in write order; a limit-style early stop ends
// the parallel reads.
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
	// EachUpdated: in write order (the shuffled order of tb's Apply),
	// strictly increasing times.
	var prev time.Time
	seen := 0
	if err := db.Objects("tb").EachUpdated(ctx, "work-type", exportspec.Window{}, func(ob catalog.Object) error {
		if !ob.UpdatedAt.After(prev) {
			return fmt.Errorf("%s written at %s, not after %s", ob.Key, ob.UpdatedAt.Format(time.RFC3339Nano), prev.Format(time.RFC3339Nano))
		}
		prev = ob.UpdatedAt
		seen++
		return nil
	}); err != nil || seen != n {
		t.Fatalf("EachUpdated saw %d of %d: %v", seen, n, err)
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
