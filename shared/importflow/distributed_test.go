package importflow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// TestPlanOverTheThresholdIsDistributed: a plan of more chunks than
// Config.DistributedChunks lists none in the state document; it is
// distributed, with the chunk list at chunks.json (the Distributed Map's
// ItemReader) and the ResultWriter prefix, at DistributedConcurrency; one
// at the threshold is the inline list as before. Both import exactly
// (Finalize reads a distributed plan's chunks from the stored plan).
func TestPlanOverTheThresholdIsDistributed(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, 10)
	h.flow.Config.DistributedChunks = 3
	h.flow.Config.DistributedConcurrency = 7
	for _, tc := range []struct {
		rows        int
		distributed bool
	}{{30, false}, {31, true}, {95, true}} {
		tenant := fmt.Sprintf("dist-plan-%d-%d", tc.rows, time.Now().UnixNano())
		ev := h.upload(tenant, "work-type", "file.csv", workTypes(tc.rows), nil)
		sr, err := h.flow.Start(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		j := sr.Job
		if ls, err := h.flow.AcquireLock(ctx, j, importflow.LockState{}); err != nil || !ls.Acquired {
			t.Fatalf("lock: %+v %v", ls, err)
		}
		plan, err := h.flow.Prepare(ctx, j)
		if err != nil {
			t.Fatal(err)
		}
		chunks := (tc.rows + 9) / 10
		if plan.Distributed != tc.distributed || plan.ChunkCount != chunks || plan.Rows != tc.rows {
			t.Fatalf("%d rows: %+v", tc.rows, plan)
		}
		raw, _ := json.Marshal(plan)
		if !tc.distributed {
			if len(plan.Chunks) != chunks || plan.MaxConcurrency != h.flow.Config.ChunkConcurrency || plan.ChunksKey != "" {
				t.Fatalf("%d rows inline: %s", tc.rows, raw)
			}
			if _, err := h.files.Get(ctx, importflow.ChunkListKey(j.Tenant, j.JobID)); err == nil {
				t.Fatalf("an inline plan wrote chunks.json")
			}
		} else {
			if len(plan.Chunks) != 0 || plan.MaxConcurrency != 7 || plan.Bucket != h.bucket ||
				plan.ChunksKey != importflow.ChunkListKey(j.Tenant, j.JobID) || plan.ResultsPrefix != importflow.MapResultsPrefix(j.Tenant, j.JobID) {
				t.Fatalf("%d rows distributed: %s", tc.rows, raw)
			}
			list, err := h.flow.Chunks(ctx, j, plan)
			if err != nil || len(list) != chunks {
				t.Fatalf("chunks.json: %d chunks, %v", len(list), err)
			}
			for i, c := range list {
				if c.Index != i || c.FirstRow != 2+10*i {
					t.Fatalf("chunk %d: %+v", i, c)
				}
			}
		}
		for _, c := range must(h.flow.Chunks(ctx, j, plan)) {
			if _, err := h.flow.ProcessChunk(ctx, j, c); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := h.flow.Finalize(ctx, j, plan); err != nil {
			t.Fatalf("%d rows: finalize: %v", tc.rows, err)
		}
		got, err := h.db.GetJob(ctx, j.Tenant, j.JobID)
		if err != nil || got.Status != jobs.StatusCompleted || got.Counts.Created != tc.rows {
			t.Fatalf("%d rows: %s %+v %v", tc.rows, got.Status, got.Counts, err)
		}
		if res := h.csv(got.ResultsKey); len(res) != tc.rows+1 {
			t.Fatalf("%d rows: results CSV has %d lines", tc.rows, len(res))
		}
		if err := h.flow.Locks.ReleaseLock(ctx, j.Tenant, j.JobID); err != nil {
			t.Fatal(err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
