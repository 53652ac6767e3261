package dynamostore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
)

// legacyItem is an object as the store wrote it before shards: pk
// "<tenant>#<type>", times in time.RFC3339Nano (attributevalue's default).
type legacyItem struct {
	PK        string            `dynamodbav:"pk"`
	SK        string            `dynamodbav:"sk"`
	Type      string            `dynamodbav:"type"`
	ID        string            `dynamodbav:"id"`
	Name      string            `dynamodbav:"name"`
	Fields    map[string]string `dynamodbav:"fields"`
	Version   int64             `dynamodbav:"version"`
	CreatedAt time.Time         `dynamodbav:"createdAt"`
	UpdatedAt time.Time         `dynamodbav:"updatedAt"`
	JobID     string            `dynamodbav:"jobId"`
}

func putLegacy(t *testing.T, st *localtest.Stack, table string, it legacyItem) {
	t.Helper()
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Clients.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: av}); err != nil {
		t.Fatal(err)
	}
}

// legacyLeft counts the items still in the layout before shards.
func legacyLeft(t *testing.T, st *localtest.Stack, table string) int {
	t.Helper()
	left := 0
	var start map[string]ddbtypes.AttributeValue
	for {
		out, err := st.Clients.DynamoDB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), ExclusiveStartKey: start})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			if pk := it["pk"].(*ddbtypes.AttributeValueMemberS).Value; strings.Count(pk, "#") == 1 {
				left++
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return left
		}
		start = out.LastEvaluatedKey
	}
}

// TestMigrateObjectsToShards: objects written in the layout before shards
// (two tenants, two types, 1,250 items) are moved by runs of two pages at
// a time that each resume from the checkpoint; afterwards every object
// reads back unchanged through the store (ID, version, fields, times, job),
// nothing is left in the old layout, listing is in key order, and another
// run moves nothing. A key found in both layouts keeps the higher version.
func TestMigrateObjectsToShards(t *testing.T) {
	db, _ := newStore(t)
	st := localtest.Require(t)
	table := db.TableNames().Objects
	ctx := context.Background()
	t0 := time.Date(2026, 10, 1, 8, 0, 0, 500_000_000, time.UTC)
	want := map[string]map[string]catalog.Object{} // tenant#type → key → object
	for _, tenant := range []string{"acme", "globex"} {
		for _, typ := range []string{"work-type", "site"} {
			count := 500
			if typ == "site" {
				count = 125
			}
			m := map[string]catalog.Object{}
			for i := range count {
				name := fmt.Sprintf("%s %s %04d", tenant, typ, i)
				k := strings.ToLower(name)
				o := catalog.Object{Type: typ, Key: k, ID: fmt.Sprintf("id-%s-%d", typ, i), Name: name,
					Fields: map[string]string{"name": name, "description": "legacy"}, Version: int64(1 + i%3),
					CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(i) * time.Millisecond), JobID: "old-job"}
				m[k] = o
				putLegacy(t, st, table, legacyItem{PK: tenant + "#" + typ, SK: k, Type: typ, ID: o.ID, Name: name, Fields: o.Fields,
					Version: o.Version, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, JobID: o.JobID})
			}
			want[tenant+"#"+typ] = m
		}
	}
	// Two keys are in both layouts already: one newer in its shard, one
	// newer in the old layout.
	newer := workType("Acme work-type 0001", "sharded and newer", 0)
	newer.Object.Key = "acme work-type 0001"
	older := workType("Acme work-type 0002", "sharded and older", 0)
	older.Object.Key = "acme work-type 0002"
	for i := 0; i < 5; i++ { // version 5 > the legacy 2
		prev := int64(i)
		newer.PrevVersion = prev
		if _, err := db.Objects("acme").Apply(ctx, "new-job", []catalog.Write{newer}, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Objects("acme").Apply(ctx, "new-job", []catalog.Write{older}, 1); err != nil { // version 1 < the legacy 3
		t.Fatal(err)
	}

	opt := dynamostore.MigrateOptions{PageItems: 200, MaxPages: 2, Parallel: 8}
	var rep dynamostore.MigrateReport
	runs := 0
	for !rep.Done {
		if runs++; runs > 10 {
			t.Fatalf("not done after %d runs: %+v", runs, rep)
		}
		var err error
		if rep, err = db.MigrateObjects(ctx, opt); err != nil {
			t.Fatal(err)
		}
		if !rep.Done && legacyLeft(t, st, table) == 0 && rep.Moved < 1250-2 {
			t.Fatalf("run %d: nothing left but only %d moved", runs, rep.Moved)
		}
	}
	if runs < 3 {
		t.Fatalf("finished in %d runs of 2 pages: the test does not exercise resuming", runs)
	}
	if rep.Moved != 1248 || rep.Duplicates != 2 || rep.Skipped != 0 {
		t.Fatalf("report %+v, want 1248 moved and 2 duplicates", rep)
	}
	if n := legacyLeft(t, st, table); n != 0 {
		t.Fatalf("%d items left in the old layout", n)
	}
	check := func() {
		t.Helper()
		for tt, m := range want {
			tenant, typ, _ := strings.Cut(tt, "#")
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			got, err := db.Objects(tenant).GetObjects(ctx, typ, keys)
			if err != nil {
				t.Fatal(err)
			}
			for k, w := range m {
				g, ok := got[k]
				switch {
				case k == "acme work-type 0001":
					if g.Version != 5 || g.Fields["description"] != "sharded and newer" {
						t.Errorf("%s: %+v, want the sharded version 5", k, g)
					}
				case !ok:
					t.Errorf("%s %s %s lost", tenant, typ, k)
				case g.ID != w.ID || g.Version != w.Version || g.Name != w.Name || g.Fields["description"] != "legacy" ||
					!g.CreatedAt.Equal(w.CreatedAt) || !g.UpdatedAt.Equal(w.UpdatedAt) || g.JobID != w.JobID:
					t.Errorf("%s: %+v, want %+v", k, g, w)
				}
			}
			if c, err := db.Objects(tenant).Count(ctx, typ); err != nil || c != len(m) {
				t.Errorf("%s: Count %d, want %d (%v)", tt, c, len(m), err)
			}
		}
	}
	check()
	// Again: a new pass that moves nothing and changes nothing.
	again, err := db.MigrateObjects(ctx, dynamostore.MigrateOptions{})
	if err != nil || !again.Done || again.Moved != rep.Moved || again.Duplicates != rep.Duplicates || again.Scanned != 1250 {
		t.Fatalf("second pass: %+v %v; want done, nothing more moved, 1,250 scanned", again, err)
	}
	check()
	if l := listing(t, db.Objects("acme")); len(l) != 500 || l[0] > l[1] {
		t.Fatalf("listing after migration: %d lines", len(l))
	}
}
