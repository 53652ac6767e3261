package exportflow_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportapp"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/exportzip"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// benchSeedTime is when the seeded objects were (said to be) written.
var benchSeedTime = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// benchWorkType is the i-th generated work type, as dynamostore reads it:
// one in seven with a formula-like description (the writer neutralizes
// it), one in three a wrap-up code.
func benchWorkType(i int) catalog.Object {
	name := fmt.Sprintf("Code %07d", i)
	desc := fmt.Sprintf("Generated code %d, for the benchmark", i)
	if i%7 == 0 {
		desc = fmt.Sprintf("=HYPERLINK(\"http://x/%d\")", i)
	}
	typ := "IDLE_CODE"
	if i%3 == 0 {
		typ = "WRAP_UP_CODE"
	}
	return catalog.Object{Type: "work-type", Key: objecttype.JoinKey(name), ID: fmt.Sprintf("wt-%07d", i), Name: name,
		Fields:  map[string]string{"name": name, "description": desc, "type": typ},
		Version: 1, CreatedAt: benchSeedTime, UpdatedAt: benchSeedTime, JobID: "seed"}
}

// seedWorkTypes stores n generated work types of tenant in table with
// BatchWriteItem (25 items a request, par requests in flight, unprocessed
// items retried) and returns the time it took. It bypasses the store's
// conditional writes, which run at DynamoDB Local's PutItem rate.
func seedWorkTypes(b *testing.B, db *dynamodb.Client, table, tenant string, n, par int) time.Duration {
	b.Helper()
	return seedObjects(b, db, table, tenant, n, par, benchWorkType)
}

// seedObjects stores gen(0) … gen(n-1) of tenant in table as seedWorkTypes
// does (an item already stored under the same key is replaced).
func seedObjects(b *testing.B, db *dynamodb.Client, table, tenant string, n, par int, gen func(int) catalog.Object) time.Duration {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	batches := make(chan [2]int)
	errs := make(chan error, par)
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range batches {
				reqs := make([]ddbtypes.WriteRequest, 0, r[1]-r[0])
				for i := r[0]; i < r[1]; i++ {
					o := gen(i)
					av, err := dynamostore.ObjectItem(tenant, o)
					if err != nil {
						errs <- err
						return
					}
					reqs = append(reqs, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: av}})
				}
				pending := map[string][]ddbtypes.WriteRequest{table: reqs}
				for attempt := 0; len(pending) > 0; attempt++ {
					if attempt > 10 {
						errs <- fmt.Errorf("items %d to %d: still unprocessed after %d attempts", r[0], r[1], attempt)
						return
					}
					if attempt > 0 {
						time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
					}
					out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
					if err != nil {
						errs <- err
						return
					}
					pending = out.UnprocessedItems
				}
			}
		}()
	}
	for i := 0; i < n; i += 25 {
		batches <- [2]int{i, min(i+25, n)}
	}
	close(batches)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("seeding %s: %v", tenant, err)
	}
	return time.Since(start)
}

// rawQuery reads every item of tenant's work types with plain paged
// Queries, one per shard, the shards in parallel as the store reads them
// (no decoding into objects, no merge, no ZIP), and returns how many there
// were and the time it took: DynamoDB Local's read rate for the export's
// own reads. limit 0 reads pages of up to 1 MB; a positive limit caps the
// items a page.
func rawQuery(b *testing.B, db *dynamodb.Client, table, tenant string, limit int32) (int, time.Duration) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	for sh := range dynamostore.Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pk := fmt.Sprintf("%s#work-type#%02x", tenant, sh)
			var from map[string]ddbtypes.AttributeValue
			for {
				out, err := db.Query(ctx, &dynamodb.QueryInput{
					TableName:                 aws.String(table),
					KeyConditionExpression:    aws.String("pk = :p"),
					ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":p": &ddbtypes.AttributeValueMemberS{Value: pk}},
					ExclusiveStartKey:         from,
					Limit:                     limitOrNil(limit),
				})
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				n += len(out.Items)
				mu.Unlock()
				if len(out.LastEvaluatedKey) == 0 {
					return
				}
				from = out.LastEvaluatedKey
			}
		}()
	}
	wg.Wait()
	return n, time.Since(start)
}

func limitOrNil(limit int32) *int32 {
	if limit <= 0 {
		return nil
	}
	return aws.Int32(limit)
}

// probeLister wraps the flow's object reader: it times Count, and during
// Each it takes the live heap (HeapAlloc right after a forced GC, above
// base) at ten checkpoints, keeping the time they take apart so it can be
// left out of the wall time.
type probeLister struct {
	exportflow.ObjectLister
	p *probe
}

// probe is what probeLister measured in one export.
type probe struct {
	every  int    // objects between checkpoints
	base   uint64 // HeapAlloc after a GC before the export
	seen   int
	live   uint64
	paused time.Duration
	count  time.Duration
}

func (l probeLister) Count(ctx context.Context, typ string) (int, error) {
	start := time.Now()
	n, err := l.ObjectLister.Count(ctx, typ)
	l.p.count += time.Since(start)
	return n, err
}

func (l probeLister) Each(ctx context.Context, typ string, fn func(catalog.Object) error) error {
	return l.ObjectLister.Each(ctx, typ, func(o catalog.Object) error {
		l.p.seen++
		if l.p.seen%l.p.every == 0 {
			p0 := time.Now()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			l.p.live = max(l.p.live, ms.HeapAlloc-min(ms.HeapAlloc, l.p.base))
			l.p.paused += time.Since(p0)
		}
		return fn(o)
	})
}

// timedFiles times the upload of the export's ZIP.
type timedFiles struct {
	*s3store.Store
	took *time.Duration
}

func (f timedFiles) PutFile(ctx context.Context, key, contentType string, file *os.File, size int64) (string, error) {
	start := time.Now()
	v, err := f.Store.PutFile(ctx, key, contentType, file, size)
	*f.took += time.Since(start)
	return v, err
}

// benchWarmOnce warms DynamoDB Local once per process: it is a JVM, and
// its first thousands of requests run several times slower than later
// ones while the JIT compiles, so 20,000 items are written and read back
// untimed before any figure is taken.
var benchWarmOnce sync.Once

// benchJobs numbers the benchmarks' export jobs across the process, so
// that -count N (which calls a benchmark N times, each counting from 0)
// never reuses a job ID.
var benchJobs atomic.Int64

// BenchmarkExportFlow runs the export job end to end on the local stack
// (make bench-export-flow; figures in docs/export-benchmarks.md): n
// work-type objects stored in DynamoDB Local (seeded untimed with
// BatchWriteItem) are exported by exportflow.Flow.Handle as exportapp
// assembles it: Count, then read page by page, written to a split ZIP in a
// temporary file, uploaded to MinIO, the job finished. Reported: wall time
// of Handle (checkpoints left out), objects/s, parts, ZIP size, the time
// of the flow's Count and of the upload, peak heap (HeapAlloc sampled
// every 5 ms, garbage included) and live heap (after a forced GC at ten
// checkpoints), both above the heap after a GC before the run; and, in the
// same run, plain paged Queries of the same items, the 16 shards in
// parallel (DynamoDB Local's read rate, no decoding, no merge, no ZIP) for
// comparison, in pages of up to 1 MB and in pages of 1,000 items (DynamoDB
// Local reads the rest of the partition for every 1 MB page, so its 1 MB
// paging slows with the partition's size; a page limit keeps the cost of a
// page flat; the store reads pages of 500 items a shard).
func BenchmarkExportFlow(b *testing.B) {
	st := localtest.Require(b)
	st.Provision(b)
	ctx := context.Background()
	table := st.Ref("ObjectsTable")
	benchWarmOnce.Do(func() {
		seedWorkTypes(b, st.Clients.DynamoDB, table, "warmup", 20_000, 16)
		rawQuery(b, st.Clients.DynamoDB, table, "warmup", 0)
	})
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: table, Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, time.Now)
	files := s3store.New(st.Clients.S3, st.Ref("DataBucket"))
	for _, n := range []int{10_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			tenant := fmt.Sprintf("bench%d", n)
			seed := seedWorkTypes(b, st.Clients.DynamoDB, table, tenant, n, 16)
			b.Logf("seeded %d objects in %.1f s (%.0f/s, BatchWriteItem, 16 in flight)", n, seed.Seconds(), float64(n)/seed.Seconds())
			// The seeded items are what the store reads back.
			objs := db.Objects(tenant)
			for _, i := range []int{0, 7, n - 1} {
				want := benchWorkType(i)
				got, err := objs.GetObjects(ctx, "work-type", []string{want.Key})
				if err != nil {
					b.Fatal(err)
				}
				if g := got[want.Key]; !sameObject(g, want) {
					b.Fatalf("object %d reads back as %+v, want %+v", i, g, want)
				}
			}
			if c, err := objs.Count(ctx, "work-type"); err != nil || c != n {
				b.Fatalf("%d objects stored, want %d (%v)", c, n, err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				jobID := fmt.Sprintf("01JBENCHEXPORT%06d%06d", n/1000, benchJobs.Add(1))
				if l, err := db.AcquireLock(ctx, tenant, jobID, time.Minute); err != nil || !l.Acquired {
					b.Fatalf("lock: %+v %v", l, err)
				}
				if err := db.CreateJob(ctx, jobs.Job{Tenant: tenant, ID: jobID, Type: jobs.TypeExport, ObjectType: "work-type",
					FileName: "bench_WorkType.zip", Status: jobs.StatusNew, SubmittedBy: "bench", SubmittedAt: time.Now().UTC()}); err != nil {
					b.Fatal(err)
				}
				raw, err := json.Marshal(exportflow.Request{Tenant: tenant, JobID: jobID, ObjectTypes: []string{"work-type"}})
				if err != nil {
					b.Fatal(err)
				}
				flow := exportapp.Assemble(db, files, time.Minute, slog.New(slog.NewJSONHandler(io.Discard, nil)))
				var upload time.Duration
				flow.Files = timedFiles{Store: files, took: &upload}
				runtime.GC()
				var base runtime.MemStats
				runtime.ReadMemStats(&base)
				pr := &probe{every: n / 10, base: base.HeapAlloc}
				flow.Objects = func(t string) exportflow.ObjectLister { return probeLister{ObjectLister: db.Objects(t), p: pr} }
				peak := base.HeapAlloc
				done, stopped := make(chan struct{}), make(chan struct{})
				go func() {
					defer close(stopped)
					var ms runtime.MemStats
					for {
						select {
						case <-done:
							return
						case <-time.After(5 * time.Millisecond):
							runtime.ReadMemStats(&ms)
							peak = max(peak, ms.HeapAlloc)
						}
					}
				}()
				b.StartTimer()
				start := time.Now()
				j, err := flow.Handle(ctx, raw)
				el := time.Since(start) - pr.paused
				b.StopTimer()
				close(done)
				<-stopped
				if err != nil {
					b.Fatal(err)
				}
				wantParts := (n + exportzip.DefaultMaxRows - 1) / exportzip.DefaultMaxRows
				if j.Status != jobs.StatusCompleted || j.Counts.Total != n || j.Counts.Processed != n || j.Files != wantParts {
					b.Fatalf("export job: %s %+v files %d %q", j.Status, j.Counts, j.Files, j.Message)
				}
				size := checkExportZip(b, files, j.ResultsKey, n, wantParts)
				got, q := rawQuery(b, st.Clients.DynamoDB, table, tenant, 0)
				got1k, q1k := rawQuery(b, st.Clients.DynamoDB, table, tenant, 1000)
				if got != n || got1k != n {
					b.Fatalf("raw queries read %d and %d items, want %d", got, got1k, n)
				}
				b.ReportMetric(el.Seconds(), "s/export")
				b.ReportMetric(float64(n)/el.Seconds(), "objects/s")
				b.ReportMetric(float64(j.Files), "parts")
				b.ReportMetric(float64(size)/(1<<20), "zip-MB")
				b.ReportMetric(pr.count.Seconds(), "count-s")
				b.ReportMetric(upload.Seconds(), "upload-s")
				b.ReportMetric(float64(peak-min(peak, base.HeapAlloc))/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(pr.live)/(1<<20), "live-heap-MB")
				b.ReportMetric(q.Seconds(), "query-s")
				b.ReportMetric(float64(n)/q.Seconds(), "query-objects/s")
				b.ReportMetric(q1k.Seconds(), "query-limit1000-s")
			}
		})
	}
}

// sameObject reports whether two objects are equal, times by instant.
func sameObject(a, b catalog.Object) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !a.UpdatedAt.Equal(b.UpdatedAt) || len(a.Fields) != len(b.Fields) {
		return false
	}
	for k, v := range a.Fields {
		if w, ok := b.Fields[k]; !ok || w != v {
			return false
		}
	}
	return a.Type == b.Type && a.Key == b.Key && a.ID == b.ID && a.Name == b.Name && a.Version == b.Version && a.JobID == b.JobID
}

// checkExportZip downloads the export's ZIP from MinIO and checks it has
// parts parts holding n data rows in all; it returns the ZIP's size.
func checkExportZip(b *testing.B, files *s3store.Store, key string, n, parts int) int {
	b.Helper()
	raw, err := files.Get(context.Background(), key)
	if err != nil {
		b.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		b.Fatal(err)
	}
	rows := 0
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			b.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			b.Fatal(err)
		}
		rows += bytes.Count(data, []byte("\r\n")) - 1 // the header; no field holds a line break
	}
	if len(zr.File) != parts || rows != n {
		b.Fatalf("the ZIP holds %d parts and %d rows, want %d and %d", len(zr.File), rows, parts, n)
	}
	return len(raw)
}

// BenchmarkIncrementalExport runs an incremental export end to end on the
// local stack (make bench-export-flow; figures in docs/export-benchmarks.md):
// 100,000 work types stored at benchSeedTime, of which 1,000 (every 100th)
// were written again an hour later, and an export of the window from half
// an hour after the seed: it must find exactly the 1,000 and read past the
// other 99,000. Reported: wall time of Handle, objects of the type per
// second (all 100,000: what the read has to go through), the objects
// exported.
func BenchmarkIncrementalExport(b *testing.B) {
	st := localtest.Require(b)
	st.Provision(b)
	ctx := context.Background()
	table := st.Ref("ObjectsTable")
	benchWarmOnce.Do(func() {
		seedWorkTypes(b, st.Clients.DynamoDB, table, "warmup", 20_000, 16)
		rawQuery(b, st.Clients.DynamoDB, table, "warmup", 0)
	})
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: table, Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, time.Now)
	files := s3store.New(st.Clients.S3, st.Ref("DataBucket"))
	const n, every = 100_000, 100
	changedAt := benchSeedTime.Add(time.Hour)
	tenant := "benchincr"
	seedWorkTypes(b, st.Clients.DynamoDB, table, tenant, n, 16)
	changed := func(i int) catalog.Object {
		o := benchWorkType(i * every)
		o.Version, o.UpdatedAt, o.JobID = 2, changedAt.Add(time.Duration(i)*time.Microsecond), "second"
		o.Fields["description"] = "changed"
		return o
	}
	seedObjects(b, st.Clients.DynamoDB, table, tenant, n/every, 16, changed)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		jobID := fmt.Sprintf("01JBENCHINCREMENT%09d", benchJobs.Add(1))
		if l, err := db.AcquireLock(ctx, tenant, jobID, time.Minute); err != nil || !l.Acquired {
			b.Fatalf("lock: %+v %v", l, err)
		}
		if err := db.CreateJob(ctx, jobs.Job{Tenant: tenant, ID: jobID, Type: jobs.TypeExport, ObjectType: "work-type",
			FileName: "bench_WorkType.zip", Status: jobs.StatusNew, SubmittedBy: "bench", SubmittedAt: time.Now().UTC()}); err != nil {
			b.Fatal(err)
		}
		raw, err := json.Marshal(exportflow.Request{Tenant: tenant, JobID: jobID, ObjectTypes: []string{"work-type"},
			Window: exportspec.Window{From: benchSeedTime.Add(30 * time.Minute)}})
		if err != nil {
			b.Fatal(err)
		}
		flow := exportapp.Assemble(db, files, time.Minute, slog.New(slog.NewJSONHandler(io.Discard, nil)))
		b.StartTimer()
		start := time.Now()
		j, err := flow.Handle(ctx, raw)
		el := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if j.Status != jobs.StatusCompleted || j.Counts.Processed != n/every || j.Files != 1 {
			b.Fatalf("export job: %s %+v files %d %q", j.Status, j.Counts, j.Files, j.Message)
		}
		checkExportZip(b, files, j.ResultsKey, n/every, 1)
		scanned, kept, units := filteredQuery(b, st.Clients.DynamoDB, table, tenant, benchSeedTime.Add(30*time.Minute))
		if scanned != n || kept != n/every {
			b.Fatalf("filtered queries read %d items and kept %d, want %d and %d", scanned, kept, n, n/every)
		}
		b.ReportMetric(el.Seconds(), "s/export")
		b.ReportMetric(float64(n)/el.Seconds(), "type-objects/s")
		b.ReportMetric(float64(j.Counts.Processed), "exported")
		b.ReportMetric(units, "read-units")
		b.ReportMetric(meanItemBytes(b, tenant, n), "item-bytes")
	}
}

// filteredQuery runs the incremental read's Queries (every shard of
// tenant's work types, consistent, pages of 500 items, kept from since on)
// one shard after another, and returns the items read, the items kept and
// the read units DynamoDB Local reports consumed (ReturnConsumedCapacity).
func filteredQuery(b *testing.B, db *dynamodb.Client, table, tenant string, since time.Time) (scanned, kept int, units float64) {
	b.Helper()
	for sh := range dynamostore.Shards {
		var from map[string]ddbtypes.AttributeValue
		for {
			out, err := db.Query(context.Background(), &dynamodb.QueryInput{
				TableName:              aws.String(table),
				KeyConditionExpression: aws.String("pk = :p"),
				FilterExpression:       aws.String("updatedAt >= :lo"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
					":p":  &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("%s#work-type#%02x", tenant, sh)},
					":lo": &ddbtypes.AttributeValueMemberS{Value: since.UTC().Format("2006-01-02T15:04:05.000000000Z")},
				},
				ConsistentRead:         aws.Bool(true),
				Limit:                  aws.Int32(500),
				ReturnConsumedCapacity: ddbtypes.ReturnConsumedCapacityTotal,
				ExclusiveStartKey:      from,
			})
			if err != nil {
				b.Fatal(err)
			}
			scanned += int(out.ScannedCount)
			kept += int(out.Count)
			if out.ConsumedCapacity != nil {
				units += aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			from = out.LastEvaluatedKey
		}
	}
	return scanned, kept, units
}

// meanItemBytes is the mean size, as DynamoDB counts it for read units, of
// the n seeded items of tenant (after the changes): attribute names and
// string values in UTF-8 bytes, numbers about one byte per two digits plus
// one, a map 3 bytes plus one a member
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html).
func meanItemBytes(b *testing.B, tenant string, n int) float64 {
	b.Helper()
	var size func(ddbtypes.AttributeValue) int
	size = func(av ddbtypes.AttributeValue) int {
		switch v := av.(type) {
		case *ddbtypes.AttributeValueMemberS:
			return len(v.Value)
		case *ddbtypes.AttributeValueMemberN:
			return (len(v.Value)+1)/2 + 1
		case *ddbtypes.AttributeValueMemberM:
			t := 3
			for k, x := range v.Value {
				t += len(k) + size(x) + 1
			}
			return t
		}
		b.Fatalf("unexpected attribute %T", av)
		return 0
	}
	total := 0
	for i := range n {
		o := benchWorkType(i)
		if i%100 == 0 {
			o.Version, o.JobID = 2, "second"
			o.Fields["description"] = "changed"
		}
		av, err := dynamostore.ObjectItem(tenant, o)
		if err != nil {
			b.Fatal(err)
		}
		for k, x := range av {
			total += len(k) + size(x)
		}
	}
	return float64(total) / float64(n)
}
