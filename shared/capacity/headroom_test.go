package capacity_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/capacity"
	"github.com/ccbulk/bulkops/shared/config"
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
	path := []string{"StartJob", "IsDuplicate", "AcquireLock", "LockAcquired", "Prepare", "ChooseMap", "ProcessChunks", "Finalize", "ReleaseLock", "Done"}
	if m.StartAt != path[0] {
		t.Fatalf("StartAt %s, want %s", m.StartAt, path[0])
	}
	fixed, fixedRetries := walkPath(t, m, path)
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

// rawStates is the ASL as plain JSON, to compare states field by field.
func rawStates(t *testing.T) map[string]map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "statemachines", "import.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		States map[string]map[string]any `json:"States"`
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	return def.States
}

// TestMapChoiceAndBothChunkTasks: after Prepare a Choice sends a plan
// with distributed: true to the Distributed Map and any other to the
// inline Map; both Maps go on to Finalize with the same state document
// (ResultPath null, the same Catch) and run the same chunk task: ASL has
// no way to share states between two Maps (and state names must be unique
// in the whole machine), so the Distributed Map's item processor is a copy
// with its states renamed, and this test holds the copy to the original.
func TestMapChoiceAndBothChunkTasks(t *testing.T) {
	st := rawStates(t)
	if st["Prepare"]["Next"] != "ChooseMap" {
		t.Fatalf("Prepare goes to %v, not ChooseMap", st["Prepare"]["Next"])
	}
	choice := st["ChooseMap"]
	rules, _ := choice["Choices"].([]any)
	if choice["Type"] != "Choice" || len(rules) != 1 || choice["Default"] != "ProcessChunks" {
		t.Fatalf("ChooseMap: %v", choice)
	}
	rule, _ := rules[0].(map[string]any)
	if rule["Variable"] != "$.plan.distributed" || rule["BooleanEquals"] != true || rule["Next"] != "ProcessChunksDistributed" {
		t.Fatalf("ChooseMap's rule: %v", rule)
	}
	// The field the Choice reads is the one Prepare writes.
	if b, _ := json.Marshal(importflow.PlanRef{Distributed: true}); !strings.Contains(string(b), `"distributed":true`) {
		t.Fatalf("PlanRef encodes as %s", b)
	}

	inline, dist := st["ProcessChunks"], st["ProcessChunksDistributed"]
	for _, k := range []string{"Type", "ItemSelector", "ResultPath", "Catch", "Next", "MaxConcurrencyPath"} {
		a, _ := json.Marshal(inline[k])
		b, _ := json.Marshal(dist[k])
		if string(a) != string(b) {
			t.Errorf("%s differs: inline %s, distributed %s", k, a, b)
		}
	}
	if inline["ResultPath"] != nil || inline["Next"] != "Finalize" {
		t.Errorf("the Maps must discard their results and go on to Finalize")
	}
	// The Distributed Map's own fields.
	reader, _ := dist["ItemReader"].(map[string]any)
	rc, _ := reader["ReaderConfig"].(map[string]any)
	rp, _ := reader["Parameters"].(map[string]any)
	if reader["Resource"] != "arn:aws:states:::s3:getObject" || rc["InputType"] != "JSON" || rp["Bucket.$"] != "$.plan.bucket" || rp["Key.$"] != "$.plan.chunksKey" {
		t.Errorf("ItemReader: %v", reader)
	}
	writer, _ := dist["ResultWriter"].(map[string]any)
	wp, _ := writer["Parameters"].(map[string]any)
	if writer["Resource"] != "arn:aws:states:::s3:putObject" || wp["Bucket.$"] != "$.plan.bucket" || wp["Prefix.$"] != "$.plan.resultsPrefix" {
		t.Errorf("ResultWriter: %v", writer)
	}
	if v, ok := dist["ToleratedFailurePercentage"].(float64); !ok || v != 0 {
		t.Errorf("ToleratedFailurePercentage %v, want 0 (a child that fails for good fails the Map, as in the inline Map)", dist["ToleratedFailurePercentage"])
	}
	if _, ok := dist["ItemBatcher"]; ok {
		t.Errorf("ItemBatcher: one chunk per child execution")
	}
	ip, _ := inline["ItemProcessor"].(map[string]any)
	dp, _ := dist["ItemProcessor"].(map[string]any)
	if pc, _ := dp["ProcessorConfig"].(map[string]any); pc["Mode"] != "DISTRIBUTED" || pc["ExecutionType"] != "STANDARD" {
		t.Errorf("ProcessorConfig: %v", dp["ProcessorConfig"])
	}
	if pc, _ := ip["ProcessorConfig"].(map[string]any); pc["Mode"] != "INLINE" {
		t.Errorf("the inline Map's ProcessorConfig: %v", ip["ProcessorConfig"])
	}
	// The copy: the same states, renamed by a suffix, Next and Catch
	// targets renamed alike.
	const suffix = "InChild"
	istates, _ := ip["States"].(map[string]any)
	dstates, _ := dp["States"].(map[string]any)
	if dp["StartAt"] != ip["StartAt"].(string)+suffix || len(istates) != len(dstates) {
		t.Fatalf("the Distributed Map's processor starts at %v with %d states; the inline one at %v with %d", dp["StartAt"], len(dstates), ip["StartAt"], len(istates))
	}
	for name, s := range istates {
		want, _ := json.Marshal(s)
		for other := range istates {
			want = []byte(strings.ReplaceAll(string(want), `"Next":"`+other+`"`, `"Next":"`+other+suffix+`"`))
		}
		got, _ := json.Marshal(dstates[name+suffix])
		if string(got) != string(want) {
			t.Errorf("state %s%s is not a copy of %s:\n got %s\nwant %s", name, suffix, name, got, want)
		}
	}
}

// TestDistributedMapHeadroomAtOneMillionRows: the largest plan (1,000,000
// rows in 1,000 chunks) takes the distributed path, and there every limit
// holds with retries counted: the parent's history no longer grows with
// the chunks, each child's history is its own and small even when its
// chunk is retried to the end of the Retry lists and then recorded as
// failed (the worst case the ASL allows), the state document carries no
// chunk list, and each item is far under the child input limit.
func TestDistributedMapHeadroomAtOneMillionRows(t *testing.T) {
	m := loadASL(t)
	const rows, chunkRows = 1_000_000, 1000
	chunks := rows / chunkRows
	threshold := config.Defaults().DistributedChunks
	if chunks <= threshold {
		t.Fatalf("%d chunks would run inline (threshold %d)", chunks, threshold)
	}

	path := []string{"StartJob", "IsDuplicate", "AcquireLock", "LockAcquired", "Prepare", "ChooseMap", "ProcessChunksDistributed", "Finalize", "ReleaseLock", "Done"}
	parent, parentRetries := walkPath(t, m, path)
	if parent != capacity.DistributedParentEvents {
		t.Errorf("the distributed path's parent writes %d events, the model says %d", parent, capacity.DistributedParentEvents)
	}
	lockRounds := 19 * (eventsOf("Wait") + eventsOf("Task") + eventsOf("Choice"))
	worstParent := parent + lockRounds + parentRetries*capacity.EventsPerRetry
	if worstParent >= int(capacity.HistoryLimit.Value) {
		t.Fatalf("the parent's worst case is %d events", worstParent)
	}

	// One child: the chunk task, retried to the end of its lists, then
	// caught and recorded by RecordChunkFailed, retried to the end too.
	proc := m.States["ProcessChunksDistributed"].ItemProcessor
	first := proc.States[proc.StartAt]
	record := proc.States["RecordChunkFailedInChild"]
	if first.Type != "Task" || record.Type != "Task" {
		t.Fatalf("the child is no longer the chunk task and its failure record")
	}
	clean := 2 + eventsOf(first.Type)
	if clean != capacity.ChildEvents || capacity.ChildHistoryEvents(0) != clean {
		t.Errorf("a child writes %d events, the model says %d", clean, capacity.ChildEvents)
	}
	worstChild := clean + retriesOf(first)*capacity.EventsPerRetry + eventsOf(record.Type) + retriesOf(record)*capacity.EventsPerRetry
	if worstChild >= int(capacity.ChildHistoryLimit.Value) {
		t.Fatalf("a child's worst case is %d events", worstChild)
	}
	conc := capacity.DistributedConcurrency(config.Defaults().DistributedConcurrency, chunks)
	if conc > int(capacity.DistributedMapConcurrency.Value) {
		t.Fatalf("concurrency %d over the limit", conc)
	}

	// The state document: the plan lists no chunks; the chunk list is an
	// S3 object whose items are the children's inputs.
	long := strings.Repeat("x", 255)
	tenant := strings.Repeat("t", 64)
	job := importflow.JobRef{Tenant: tenant, JobID: "01KXXXXXXXXXXXXXXXXXXXXXXX", Bucket: strings.Repeat("b", 63),
		Key: "imports/" + tenant + "/address-book/" + long + ".csv", VersionID: strings.Repeat("v", 32),
		ObjectType: "address-book", FileName: long + ".csv"}
	plan := importflow.PlanRef{Rows: rows, Chunks: []importflow.ChunkRef{}, MaxConcurrency: int(capacity.DistributedMapConcurrency.Value), ChunkCount: chunks,
		Distributed: true, Bucket: job.Bucket, ChunksKey: importflow.ChunkListKey(tenant, job.JobID), ResultsPrefix: importflow.MapResultsPrefix(tenant, job.JobID)}
	doc, err := json.Marshal(map[string]any{"job": job, "lock": importflow.LockState{Acquired: true, Attempt: 20, Holder: job.JobID}, "plan": plan,
		"error": importflow.StateError{Error: "Bulk.Internal", Cause: strings.Repeat("c", 4096)}})
	if err != nil {
		t.Fatal(err)
	}
	const fileBytes = 500 << 20
	item := importflow.ChunkRef{Index: chunks - 1, Start: fileBytes - fileBytes/int64(chunks), End: fileBytes - 1, FirstRow: 2 + (chunks-1)*chunkRows, Rows: chunkRows}
	child, err := json.Marshal(map[string]any{"step": "chunk", "job": job, "chunk": item})
	if err != nil {
		t.Fatal(err)
	}
	list := make([]importflow.ChunkRef, chunks)
	for i := range list {
		list[i] = item
	}
	listJSON, _ := json.Marshal(list)
	t.Logf("1,000,000 rows, %d chunks, distributed (threshold %d chunks): parent %d events (%d at worst: 19 more lock rounds, every task retried to its end), whatever the chunks; each child %d events, %d at worst (%d retries, then RecordChunkFailed with %d); state document %d bytes (%.1f%% of 256 KiB); a child's input %d bytes; chunks.json %d bytes; %d children at once by default (limit %.0f)",
		chunks, threshold, parent, worstParent, clean, worstChild, retriesOf(first), retriesOf(record), len(doc), 100*float64(len(doc))/capacity.PayloadLimit.Value,
		len(child), len(listJSON), conc, capacity.DistributedMapConcurrency.Value)
	if len(doc) >= int(capacity.PayloadLimit.Value) || len(child) >= int(capacity.ChildInputLimit.Value) {
		t.Fatalf("payload over the limit: document %d, child input %d", len(doc), len(child))
	}
	// The inline path's worst case (TestInlineMapHeadroomAtOneMillionRows)
	// is over 25,000 for this plan; the distributed path's largest history
	// is the parent's worst case, independent of the file's size.
	if inlineWorst := capacity.HistoryEvents(chunks, capacity.MaxChunkRetries); inlineWorst <= int(capacity.HistoryLimit.Value) {
		t.Logf("the inline path's worst case %d fits too", inlineWorst)
	}
}

// walkPath follows path through the state machine m, failing when a state
// is gone or no longer leads to the next, and returns the history events
// the path writes outside any Map iteration (with the execution's started
// and succeeded) and the retries its tasks allow.
func walkPath(t *testing.T, m asl, path []string) (events, retries int) {
	t.Helper()
	events = 2 // ExecutionStarted, ExecutionSucceeded
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
		events += eventsOf(s.Type)
		if s.Type == "Task" {
			retries += retriesOf(s)
		}
	}
	return events, retries
}
