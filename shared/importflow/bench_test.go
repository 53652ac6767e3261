package importflow_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// mapConcurrency is the default of the import state machine's Map
// concurrency (Config.ChunkConcurrency, template parameter ChunkConcurrency).
const mapConcurrency = 4

// runParallel runs the steps like the state machine: chunks in parallel,
// at most plan.MaxConcurrency at a time. It returns the finished job, the
// chunks' time summed and the number of chunks.
func (h *harness) runParallel(b *testing.B, ev importflow.ObjectCreated) (jobs.Job, time.Duration, int) {
	ctx := context.Background()
	f := h.flow
	sr, err := f.Start(ctx, ev)
	if err != nil {
		b.Fatal(err)
	}
	j := sr.Job
	if ls, err := f.AcquireLock(ctx, j, importflow.LockState{}); err != nil || !ls.Acquired {
		b.Fatalf("lock: %+v %v", ls, err)
	}
	plan, err := f.Prepare(ctx, j)
	if err != nil {
		b.Fatal(err)
	}
	sem := make(chan struct{}, plan.MaxConcurrency)
	var wg sync.WaitGroup
	var chunkNanos atomic.Int64
	chunks, err := f.Chunks(ctx, j, plan) // a plan over the Distributed Map threshold lists none
	if err != nil {
		b.Fatal(err)
	}
	errs := make(chan error, len(chunks))
	for _, c := range chunks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			start := time.Now()
			if _, err := f.ProcessChunk(ctx, j, c); err != nil {
				errs <- err
			}
			chunkNanos.Add(int64(time.Since(start)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if _, err := f.Finalize(ctx, j, plan); err != nil {
		b.Fatal(err)
	}
	if err := f.Locks.ReleaseLock(ctx, j.Tenant, j.JobID); err != nil {
		b.Fatal(err)
	}
	got, err := h.db.GetJob(ctx, j.Tenant, j.JobID)
	if err != nil {
		b.Fatal(err)
	}
	return got, time.Duration(chunkNanos.Load()), len(chunks)
}

// timedObjects sums the time of the object writes (Apply) of an import.
type timedObjects struct {
	importflow.ObjectStore
	nanos *atomic.Int64
}

func (o timedObjects) Apply(ctx context.Context, job string, writes []catalog.Write, conc int) ([]catalog.WriteResult, error) {
	start := time.Now()
	defer func() { o.nanos.Add(int64(time.Since(start))) }()
	return o.ObjectStore.Apply(ctx, job, writes, conc)
}

func workTypes(rows int) []byte {
	var s strings.Builder
	s.WriteString("Name,Description,Type\n")
	for i := range rows {
		typ := "IDLE_CODE"
		if i%3 == 0 {
			typ = "WRAP_UP_CODE"
		}
		fmt.Fprintf(&s, "Code %07d,\"Generated code %d, for the benchmark\",%s\n", i, i, typ)
	}
	return []byte(s.String())
}

// benchSizes are the file sizes BenchmarkImport runs: 5,000 and 100,000
// rows, or the comma-separated list in BULKOPS_BENCH_IMPORT_ROWS (make
// bench-import ROWS=5000,100000,1000000).
func benchSizes(b *testing.B) []int {
	raw := os.Getenv("BULKOPS_BENCH_IMPORT_ROWS")
	if raw == "" {
		return []int{5_000, 100_000}
	}
	var sizes []int
	for _, f := range strings.Split(raw, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("BULKOPS_BENCH_IMPORT_ROWS=%q: want row counts separated by commas", raw)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// importOnce imports a generated work-type file of rows rows (every row a
// create) through the workflow steps with objects as the object store
// (nil: the store's default write path) and reports rows/s and s/import.
func importOnce(b *testing.B, rows, i int, objects func(h *harness) func(string) importflow.ObjectStore, par int) {
	b.StopTimer()
	body := workTypes(rows)
	h := newHarness(b, 1000)
	h.flow.Config.Limits = csvread.LargeLimits()
	if objects != nil {
		h.flow.Objects = objects(h)
	}
	var applyNanos atomic.Int64
	inner := h.flow.Objects
	h.flow.Objects = func(t string) importflow.ObjectStore { return timedObjects{ObjectStore: inner(t), nanos: &applyNanos} }
	if par > 0 {
		h.flow.Config.WriteParallelism = par
	}
	ev := h.upload(fmt.Sprintf("bench%d", i), "work-type", "codes.csv", body, nil)
	// DynamoDB Local's raw write rate right before this import, on the
	// same table: the machine's load moves both alike, so their ratio is
	// the figure to read.
	const rawItems = 5_000
	raw := rawPut(b, localtest.Require(b), h.db.TableNames().Objects, fmt.Sprintf("raw-before-%d", i), rawItems, mapConcurrency*16)
	rawRate := float64(rawItems) / raw.Seconds()
	b.StartTimer()
	start := time.Now()
	job, chunkTime, chunks := h.runParallel(b, ev)
	el := time.Since(start)
	b.StopTimer()
	if job.Counts.Created != rows {
		b.Fatalf("created %d of %d: %+v", job.Counts.Created, rows, job.Counts)
	}
	if n, err := h.db.Objects(fmt.Sprintf("bench%d", i)).Count(context.Background(), "work-type"); err != nil || n != rows {
		b.Fatalf("%d objects stored, want %d (%v)", n, rows, err)
	}
	b.ReportMetric(float64(rows)/el.Seconds(), "rows/s")
	b.ReportMetric(el.Seconds(), "s/import")
	b.ReportMetric(rawRate, "raw-rows/s")
	b.ReportMetric(100*float64(rows)/el.Seconds()/rawRate, "%-of-raw")
	// A chunk's time in its object writes and outside them (the capacity
	// model's inputs, docs/capacity.md).
	apply := time.Duration(applyNanos.Load())
	b.ReportMetric(float64(apply.Milliseconds())/float64(chunks), "write-ms/chunk")
	b.ReportMetric(float64((chunkTime-apply).Milliseconds())/float64(chunks), "other-ms/chunk")
}

// BenchmarkImport imports a generated work-type file end to end through the
// workflow steps on MinIO and DynamoDB Local (every row a create), with the
// store's default write path. Run with `make bench-import`; figures in
// docs/import-workflow-benchmarks.md.
func BenchmarkImport(b *testing.B) {
	warm(b)
	for _, rows := range benchSizes(b) {
		b.Run(strconv.Itoa(rows), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				importOnce(b, rows, i, nil, 0)
			}
		})
	}
}

// writePathRows is the file size of BenchmarkImportWritePath.
const writePathRows = 20_000

// BenchmarkImportWritePath imports the same 20,000-row file once with each
// way of writing a chunk's objects, in one run next to
// BenchmarkDynamoDBLocalRawPut (make bench-import):
//   - put-each-16, put-each-64: one conditional PutItem per object, 16 (the
//     default) or 64 in flight per chunk;
//   - transact-100x2 … transact-100x16: TransactWriteItems of up to 100
//     conditional puts, 2 to 16 transactions in flight per chunk;
//   - statements-25x4, statements-25x16: PartiQL BatchExecuteStatement of
//     up to 25 conditional writes (INSERT, or UPDATE … WHERE version = ?),
//     4 or 16 in flight per chunk;
//   - fenced-batch-25x4 … fenced-batch-25x16: the store's fenced path
//     (dynamostore.WriteFenced, the default): BatchWriteItem of 25 plain
//     puts, 4 to 16 in flight, each wave licensed by a check of the tenant
//     lock (dynamostore/fence.go);
//   - batch-25x16-unconditional: BatchWriteItem of 25 plain puts, 16 in
//     flight, with no fence at all: the ceiling of what dropping the
//     conditions buys, against which the fence's own cost is read.
func BenchmarkImportWritePath(b *testing.B) {
	warm(b)
	store := func(p dynamostore.WritePath) func(h *harness) func(string) importflow.ObjectStore {
		return func(h *harness) func(string) importflow.ObjectStore {
			db := h.db.WithWritePath(p)
			return func(t string) importflow.ObjectStore { return db.Objects(t) }
		}
	}
	batch := func(h *harness) func(string) importflow.ObjectStore {
		return func(t string) importflow.ObjectStore {
			return batchObjects{ObjectStore: h.db.Objects(t), db: localtest.Require(b).Clients.DynamoDB, table: h.db.TableNames().Objects, tenant: t}
		}
	}
	for _, c := range []struct {
		name    string
		objects func(h *harness) func(string) importflow.ObjectStore
		par     int
	}{
		{"put-each-16", store(dynamostore.WriteEach), 16},
		{"put-each-64", store(dynamostore.WriteEach), 64},
		{"transact-100x2", store(dynamostore.WriteTransact), 2},
		{"transact-100x4", store(dynamostore.WriteTransact), 4},
		{"transact-100x8", store(dynamostore.WriteTransact), 8},
		{"transact-100x16", store(dynamostore.WriteTransact), 16},
		{"statements-25x4", store(dynamostore.WriteStatements), 4},
		{"statements-25x16", store(dynamostore.WriteStatements), 16},
		{"fenced-batch-25x4", store(dynamostore.WriteFenced), 4},
		{"fenced-batch-25x8", store(dynamostore.WriteFenced), 8},
		{"fenced-batch-25x16", store(dynamostore.WriteFenced), 16},
		{"batch-25x16-unconditional", batch, 16},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				importOnce(b, writePathRows, i, c.objects, c.par)
			}
		})
	}
}

// batchObjects writes objects with unconditional BatchWriteItem (25 a
// request, conc in flight), for BenchmarkImportWritePath only: every write
// is reported Applied, whatever was stored.
type batchObjects struct {
	importflow.ObjectStore
	db     *dynamodb.Client
	table  string
	tenant string
}

func (o batchObjects) Apply(ctx context.Context, job string, writes []catalog.Write, conc int) ([]catalog.WriteResult, error) {
	table := o.table
	now := time.Now().UTC()
	reqs := make([]ddbtypes.WriteRequest, len(writes))
	for i, w := range writes {
		ob := w.Object
		if w.PrevVersion == 0 || ob.CreatedAt.IsZero() {
			ob.CreatedAt = now
		}
		ob.Version, ob.UpdatedAt, ob.JobID = w.PrevVersion+1, now.Add(time.Duration(i)), job
		av, err := dynamostore.ObjectItem(o.tenant, ob)
		if err != nil {
			return nil, err
		}
		reqs[i] = ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: av}}
	}
	sem := make(chan struct{}, max(conc, 1))
	errs := make(chan error, (len(reqs)+24)/25)
	var wg sync.WaitGroup
	for start := 0; start < len(reqs); start += 25 {
		sem <- struct{}{}
		wg.Add(1)
		go func(part []ddbtypes.WriteRequest) {
			defer func() { <-sem; wg.Done() }()
			pending := map[string][]ddbtypes.WriteRequest{table: part}
			for attempt := 0; len(pending) > 0; attempt++ {
				if attempt > 10 {
					errs <- fmt.Errorf("still unprocessed after %d attempts", attempt)
					return
				}
				out, err := o.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
				if err != nil {
					errs <- err
					return
				}
				pending = out.UnprocessedItems
			}
		}(reqs[start:min(start+25, len(reqs))])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return nil, err
	}
	return make([]catalog.WriteResult, len(writes)), nil // all Applied
}

// rawPut writes items unconditional PutItems of work-type-sized objects
// under partition prefix, par at a time, and returns the time it took.
func rawPut(b *testing.B, st *localtest.Stack, table, prefix string, items, par int) time.Duration {
	ctx := context.Background()
	start := time.Now()
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for n := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := st.Clients.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{
				"pk": &ddbtypes.AttributeValueMemberS{Value: prefix + "#work-type"},
				"sk": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("code %07d", n)},
				"fields": &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{
					"name":        &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("Code %07d", n)},
					"description": &ddbtypes.AttributeValueMemberS{Value: "Generated code, for the benchmark"},
					"type":        &ddbtypes.AttributeValueMemberS{Value: "IDLE_CODE"},
				}},
				"version":   &ddbtypes.AttributeValueMemberN{Value: "1"},
				"updatedAt": &ddbtypes.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339Nano)},
			}})
			if err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// warm writes 20,000 items once per process, untimed: DynamoDB Local is a
// JVM, and its first thousands of writes run several times slower than
// later ones while the JIT compiles. Every figure is taken warm.
var warmOnce sync.Once

func warm(b *testing.B) {
	warmOnce.Do(func() {
		st := localtest.Require(b)
		st.Provision(b)
		rawPut(b, st, st.Ref("ObjectsTable"), "warmup", 20_000, mapConcurrency*16)
	})
}

// BenchmarkDynamoDBLocalRawPut measures DynamoDB Local's raw write rate in
// the same run: unconditional PutItem of objects of the same size, with the
// same parallelism as the import (Map concurrency × write parallelism).
func BenchmarkDynamoDBLocalRawPut(b *testing.B) {
	warm(b)
	const items = 5_000
	st := localtest.Require(b)
	st.Provision(b)
	for i := 0; i < b.N; i++ {
		el := rawPut(b, st, st.Ref("ObjectsTable"), fmt.Sprintf("raw%d", i), items, mapConcurrency*16)
		b.ReportMetric(float64(items)/el.Seconds(), "rows/s")
	}
}
