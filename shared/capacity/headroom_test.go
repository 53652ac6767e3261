package capacity_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/capacity"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// asl is the part of the state machine the history count reads.
type asl struct {
	StartAt string              `json:"StartAt"`
	States  map[string]aslState `json:"States"`
}

type aslState struct {
	Type    string `json:"Type"`
	Next    string `json:"Next"`
	Default string `json:"Default"`
	Choices []struct {
		Next string `json:"Next"`
	} `json:"Choices"`
	Retry []struct {
		ErrorEquals []string `json:"ErrorEquals"`
		MaxAttempts *int     `json:"MaxAttempts"`
	} `json:"Retry"`
	ItemProcessor *asl `json:"ItemProcessor"`
}

// eventsOf is how many history events entering and leaving a state of
// type typ writes on success (a Lambda task: entered, scheduled, started,
// succeeded, exited; a Map: entered, started, succeeded, exited).
func eventsOf(typ string) int {
	switch typ {
	case "Task":
		return 5
	case "Map":
		return 4
	}
	return 2 // Choice, Wait, Pass, Succeed: entered, exited
}

// retriesOf is the most retries a state's Retry list allows (each
// retrier's MaxAttempts; 3 when unset, as AWS defaults).
func retriesOf(s aslState) int {
	n := 0
	for _, r := range s.Retry {
		if r.MaxAttempts == nil {
			n += 3
		} else {
			n += *r.MaxAttempts
		}
	}
	return n
}

func loadASL(t *testing.T) asl {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "statemachines", "import.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m asl
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestInlineMapHeadroomAtOneMillionRows: the largest plan the limits allow
// (1,000,000 rows, the large-file tenant setting, in chunks of 1,000) stays
// under Step Functions' 256 KiB payload limit in every state document, and
// its history stays under 25,000 events with retries counted: the model's
// event counts are read off statemachines/import.asl.json (the happy path
// and the chunk task's Retry lists), and the test says how many chunk
// retries the history has room for, and what the worst case the ASL allows
// (every chunk retried to the end of its Retry lists) would need.
func TestInlineMapHeadroomAtOneMillionRows(t *testing.T) {
	m := loadASL(t)
	// The happy path, checked against the ASL so a changed state machine
	// fails here rather than leaving the count stale.
	path := []string{"StartJob", "IsDuplicate", "AcquireLock", "LockAcquired", "Prepare", "ProcessChunks", "Finalize", "ReleaseLock", "Done"}
	if m.StartAt != path[0] {
		t.Fatalf("StartAt %s, want %s", m.StartAt, path[0])
	}
	fixed := 2 // ExecutionStarted, ExecutionSucceeded
	fixedRetries := 0
	for i, name := range path {
		s, ok := m.States[name]
		if !ok {
			t.Fatalf("state %s is gone; update the path", name)
		}
		if i+1 < len(path) {
			next := path[i+1]
			found := s.Next == next || s.Default == next
			for _, c := range s.Choices {
				found = found || c.Next == next
			}
			if !found {
				t.Fatalf("%s no longer leads to %s; update the path", name, next)
			}
		}
		fixed += eventsOf(s.Type)
		if s.Type == "Task" {
			fixedRetries += retriesOf(s)
		}
	}
	if fixed != capacity.FixedHistoryEvents {
		t.Errorf("the happy path writes %d events outside the chunks, the model says %d", fixed, capacity.FixedHistoryEvents)
	}
	mp := m.States["ProcessChunks"]
	if mp.ItemProcessor == nil {
		t.Fatal("ProcessChunks has no ItemProcessor")
	}
	perChunk := 2 // MapIterationStarted, MapIterationSucceeded
	first, ok := mp.ItemProcessor.States[mp.ItemProcessor.StartAt]
	if !ok || first.Type != "Task" || first.Next != "" {
		t.Fatalf("the Map's item processor is no longer one task (%+v); update the count", first)
	}
	perChunk += eventsOf(first.Type)
	chunkRetries := retriesOf(first)
	if perChunk != capacity.EventsPerChunk || chunkRetries != capacity.MaxChunkRetries {
		t.Errorf("a chunk writes %d events and may retry %d times, the model says %d and %d",
			perChunk, chunkRetries, capacity.EventsPerChunk, capacity.MaxChunkRetries)
	}

	const rows, chunkRows = 1_000_000, 1000
	chunks := rows / chunkRows
	// Worst case outside the chunks: every lock attempt the config allows
	// (20: 19 more rounds of Wait, AcquireLock, Choice) and every retry of
	// the other tasks.
	lockRounds := 19 * (eventsOf("Wait") + eventsOf("Task") + eventsOf("Choice"))
	worstFixed := fixed + lockRounds + fixedRetries*capacity.EventsPerRetry
	clean := fixed + chunks*capacity.EventsPerChunk
	budget := (int(capacity.HistoryLimit.Value) - worstFixed - chunks*capacity.EventsPerChunk) / capacity.EventsPerRetry
	worst := worstFixed + chunks*(capacity.EventsPerChunk+capacity.MaxChunkRetries*capacity.EventsPerRetry)
	t.Logf("1,000,000 rows, %d chunks: %d events without retries; room for %d chunk retries (%.1f a chunk) after the worst case outside the Map (%d events); every chunk retried %d times: %d events",
		chunks, clean, budget, float64(budget)/float64(chunks), worstFixed, capacity.MaxChunkRetries, worst)
	if clean >= int(capacity.HistoryLimit.Value) {
		t.Fatalf("a clean run of %d chunks writes %d events, over the limit", chunks, clean)
	}
	if budget < chunks { // at least one retry of every chunk
		t.Fatalf("room for only %d retries of %d chunks", budget, chunks)
	}
	if got := capacity.RetryBudget(chunks); got < budget {
		t.Errorf("the model's RetryBudget(%d) = %d, below the worst-case count %d", chunks, got, budget)
	}
	// The worst case the ASL allows exceeds the limit: the document says
	// so and what the Distributed Map would change. This pins that finding.
	if worst <= int(capacity.HistoryLimit.Value) {
		t.Logf("even the worst case fits: docs/capacity.md overstates the risk")
	}

	// Payload: the state document at its largest (after Prepare: the job,
	// the lock loop's state, the plan with every chunk) for a 500 MB file
	// whose names are at their longest.
	long := strings.Repeat("x", 255)
	job := importflow.JobRef{Tenant: strings.Repeat("t", 64), JobID: "01KXXXXXXXXXXXXXXXXXXXXXXX", Bucket: strings.Repeat("b", 63),
		Key: "imports/" + strings.Repeat("t", 64) + "/address-book/" + long + ".csv", VersionID: strings.Repeat("v", 32),
		ObjectType: "address-book", FileName: long + ".csv"}
	plan := importflow.PlanRef{Rows: rows, MaxConcurrency: 40}
	const fileBytes = 500 << 20
	for i := range chunks {
		start := int64(fileBytes) / int64(chunks) * int64(i)
		plan.Chunks = append(plan.Chunks, importflow.ChunkRef{Index: i, Start: start, End: start + fileBytes/int64(chunks) - 1,
			FirstRow: 2 + i*chunkRows, Rows: chunkRows})
	}
	doc, err := json.Marshal(map[string]any{"job": job, "lock": importflow.LockState{Acquired: true, Attempt: 20, Holder: job.JobID}, "plan": plan,
		"error": importflow.StateError{Error: "Bulk.Internal", Cause: strings.Repeat("c", 4096)}})
	if err != nil {
		t.Fatal(err)
	}
	// The Map's results, before ResultPath null discards them.
	var results []importflow.ChunkResult
	for i := range chunks {
		results = append(results, importflow.ChunkResult{Index: i, Counts: jobs.Counts{Total: chunkRows, Processed: chunkRows, Created: chunkRows, Updated: chunkRows, Unchanged: chunkRows, Failed: chunkRows}})
	}
	res, err := json.Marshal(results)
	if err != nil {
		t.Fatal(err)
	}
	limit := int(capacity.PayloadLimit.Value)
	t.Logf("largest state document %d bytes (%.0f%% of 256 KiB); the Map's results %d bytes (%.0f%%)",
		len(doc), 100*float64(len(doc))/float64(limit), len(res), 100*float64(len(res))/float64(limit))
	for what, n := range map[string]int{"state document": len(doc), "Map results": len(res)} {
		if n >= limit {
			t.Errorf("%s of a 1,000,000-row plan: %d bytes, over %d", what, n, limit)
		}
	}
	if got := fmt.Sprint(capacity.HistoryEvents(chunks, 0)); got != fmt.Sprint(clean) {
		t.Errorf("the model's HistoryEvents(%d, 0) = %s, the ASL gives %d", chunks, got, clean)
	}
}
