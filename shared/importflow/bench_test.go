package importflow_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/localtest"
)

// mapConcurrency is the default of the import state machine's Map
// concurrency (Config.ChunkConcurrency, template parameter ChunkConcurrency).
const mapConcurrency = 4

// runParallel runs the steps like the state machine: chunks in parallel,
// at most plan.MaxConcurrency at a time.
func (h *harness) runParallel(b *testing.B, ev importflow.ObjectCreated) jobs.Job {
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
	errs := make(chan error, len(plan.Chunks))
	for _, c := range plan.Chunks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := f.ProcessChunk(ctx, j, c); err != nil {
				errs <- err
			}
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
	return got
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

// BenchmarkImport imports a generated work-type file end to end through the
// workflow steps on MinIO and DynamoDB Local (every row a create). Run with
// `make bench-import`; figures in docs/import-workflow-benchmarks.md.
func BenchmarkImport(b *testing.B) {
	warm(b)
	for _, rows := range []int{5_000, 100_000} {
		b.Run(strconv.Itoa(rows), func(b *testing.B) {
			body := workTypes(rows)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				h := newHarness(b, 1000)
				h.flow.Config.Limits = csvread.LargeLimits()
				ev := h.upload(fmt.Sprintf("bench%d", i), "work-type", "codes.csv", body, nil)
				b.StartTimer()
				start := time.Now()
				job := h.runParallel(b, ev)
				el := time.Since(start)
				if job.Counts.Created != rows {
					b.Fatalf("created %d of %d: %+v", job.Counts.Created, rows, job.Counts)
				}
				b.ReportMetric(float64(rows)/el.Seconds(), "rows/s")
				b.ReportMetric(el.Seconds(), "s/import")
			}
		})
	}
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
