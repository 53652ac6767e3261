package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/config"
	"github.com/ccbulk/bulkops/shared/importapp"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// runUpload runs the import of the current version of key in process, the
// steps the state machine runs on its Object Created event, and returns
// the finished job.
func (h *apiHarness) runUpload(flow *importflow.Flow, key string) jobs.Job {
	h.t.Helper()
	return h.runImport(flow, key, false)
}

// runImport is runUpload; when refused, a Prepare that fails ends the job
// as the state machine's Catch does (an apply refused under the lock).
func (h *apiHarness) runImport(flow *importflow.Flow, key string, refused bool) jobs.Job {
	h.t.Helper()
	ctx := context.Background()
	info, err := h.files.Head(ctx, key)
	if err != nil {
		h.t.Fatal(err)
	}
	var ev importflow.ObjectCreated
	ev.ID, ev.Source, ev.DetailType = "ev-"+info.VersionID, "aws.s3", "Object Created"
	ev.Detail.Bucket.Name, ev.Detail.Object.Key = h.bucket, key
	ev.Detail.Object.VersionID, ev.Detail.Object.Sequencer = info.VersionID, info.VersionID
	sr, err := flow.Start(ctx, ev)
	if err != nil {
		h.t.Fatal(err)
	}
	j := sr.Job
	if ls, err := flow.AcquireLock(ctx, j, importflow.LockState{}); err != nil || !ls.Acquired {
		h.t.Fatalf("lock: %+v %v", ls, err)
	}
	plan, err := flow.Prepare(ctx, j)
	if err != nil && refused {
		// The state machine's Catch: MarkFailed keeps the final status.
		if err := flow.MarkFailed(ctx, j, &importflow.StateError{Error: "Bulk.Stale", Cause: fmt.Sprintf(`{"errorMessage":%q}`, err.Error())}); err != nil {
			h.t.Fatal(err)
		}
		got, err := h.db.GetJob(ctx, j.Tenant, j.JobID)
		if err != nil {
			h.t.Fatal(err)
		}
		return got
	}
	if err != nil {
		h.t.Fatal(err)
	}
	chunks, err := flow.Chunks(ctx, j, plan) // a plan over the Distributed Map threshold lists none
	if err != nil {
		h.t.Fatal(err)
	}
	for _, c := range chunks {
		if _, err := flow.ProcessChunk(ctx, j, c); err != nil {
			h.t.Fatal(err)
		}
	}
	if _, err := flow.Finalize(ctx, j, plan); err != nil {
		h.t.Fatal(err)
	}
	got, err := h.db.GetJob(ctx, j.Tenant, j.JobID)
	if err != nil {
		h.t.Fatal(err)
	}
	return got
}

// TestApplyPreview: a dry run's job view links its change CSV (exact
// content); POST /v1/jobs/{id}/apply starts a real import of the previewed
// file, which lands the changes with the previewed counts; a preview whose
// objects changed since is 412 naming the object; a real import is 409;
// another tenant's dry run is 404. Every answer is validated against
// openapi.json.
func TestApplyPreview(t *testing.T) {
	h := newAPIHarness(t)
	ctx := context.Background()
	cfg := importapp.FlowConfig(config.Defaults())
	cfg.ChunkRows = 2
	flow := importapp.Assemble(cfg, h.db, h.files, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	tenant := fmt.Sprintf("apply-%d", time.Now().UnixNano()%1e9)
	put := func(name, body string, dry bool) string {
		key := "imports/" + tenant + "/work-type/" + name
		if err := h.files.Put(ctx, key, "text/csv", []byte(body), map[string]string{"dry-run": fmt.Sprint(dry)}); err != nil {
			t.Fatal(err)
		}
		return key
	}
	h.runUpload(flow, put("seed.csv", "Name,Description,Type\nLunch,Break,IDLE_CODE\nSale,,WRAP_UP_CODE\n", false))
	key := put("w.csv", "Name,Description,Type\nLunch,Long break,IDLE_CODE\nSale,,WRAP_UP_CODE\nNap,@cmd,IDLE_CODE\nBad,,NOPE\n", true)
	dry := h.runUpload(flow, key)

	var view struct {
		jobs.Job
		Links struct {
			Changes string `json:"changes"`
		} `json:"links"`
	}
	status, raw := h.call(tenant, "GET", "/v1/jobs/"+dry.ID, nil, &view)
	if status != http.StatusOK || view.Links.Changes == "" {
		t.Fatalf("dry run view: %d %s", status, raw)
	}
	code, body := get(t, view.Links.Changes)
	want := "\xEF\xBB\xBFRow,Key,Action,Field,Before,After\n2,Lunch,updated,Description,Break,Long break\n" +
		"4,Nap,created,Name,,Nap\n4,Nap,created,Description,,'@cmd\n4,Nap,created,Type,,IDLE_CODE\n"
	if code != http.StatusOK || body != want {
		t.Fatalf("change CSV %d\n got: %q\nwant: %q", code, body, want)
	}

	// Another tenant cannot apply it; a real import has no preview.
	status, raw = h.call(tenant+"x", "POST", "/v1/jobs/"+dry.ID+"/apply", nil, nil)
	problem(t, status, raw, http.StatusNotFound, "NOT_FOUND")
	seedJobs, err := h.db.ListJobs(ctx, tenant, 10)
	if err != nil {
		t.Fatal(err)
	}
	real := seedJobs[len(seedJobs)-1]
	status, raw = h.call(tenant, "POST", "/v1/jobs/"+real.ID+"/apply", nil, nil)
	problem(t, status, raw, http.StatusConflict, "CONFLICT")

	var started struct {
		JobID        string `json:"jobId"`
		PreviewJobID string `json:"previewJobId"`
	}
	status, raw = h.call(tenant, "POST", "/v1/jobs/"+dry.ID+"/apply", nil, &started)
	if status != http.StatusAccepted || started.PreviewJobID != dry.ID || started.JobID == "" {
		t.Fatalf("apply: %d %s", status, raw)
	}
	applied := h.runUpload(flow, key) // the copy's Object Created event
	if applied.ID != started.JobID || applied.ApplyOf != dry.ID || applied.DryRun || applied.SubmittedBy != "admin@"+tenant+".example" || applied.Counts != dry.Counts {
		t.Fatalf("applied job %+v, want job %s with the preview's counts %+v", applied, started.JobID, dry.Counts)
	}
	objs, err := h.db.Objects(tenant).GetObjects(ctx, "work-type", []string{"lunch", "nap"})
	if err != nil || objs["lunch"].Fields["description"] != "Long break" || objs["nap"].Fields["description"] != "@cmd" {
		t.Fatalf("applied objects %+v %v", objs, err)
	}

	// A new preview, then someone changes Sale: the apply is refused.
	dry2 := h.runUpload(flow, put("w2.csv", "Name,Description,Type\nSale,Sold out,\nLunch,,\n", true))
	h.runUpload(flow, put("other.csv", "Name,Description,Type\nSale,Gone,\n", false))
	status, raw = h.call(tenant, "POST", "/v1/jobs/"+dry2.ID+"/apply", nil, nil)
	p := problem(t, status, raw, http.StatusPreconditionFailed, "PRECONDITION_FAILED")
	if !strings.Contains(p.Detail, `"Sale" (row 2) was changed since`) || strings.Contains(p.Detail, "Lunch") {
		t.Fatalf("refusal names %q", p.Detail)
	}

	// The check window: the API accepts a fresh preview, then another
	// import changes Sale before the apply job holds the lock. The job
	// re-checks under the lock and ends Failed with the API's sentence;
	// nothing is applied.
	w3 := put("w3.csv", "Name,Description,Type\nSale,Sold out,\nLunch,Lunch,\n", true)
	dry3 := h.runUpload(flow, w3)
	status, raw = h.call(tenant, "POST", "/v1/jobs/"+dry3.ID+"/apply", nil, &started)
	if status != http.StatusAccepted {
		t.Fatalf("apply: %d %s", status, raw)
	}
	other := h.runUpload(flow, put("other2.csv", "Name,Description,Type\nSale,Gone again,\n", false))
	status, raw = h.call(tenant, "POST", "/v1/jobs/"+dry3.ID+"/apply", nil, nil) // what the API says now
	p = problem(t, status, raw, http.StatusPreconditionFailed, "PRECONDITION_FAILED")
	refused := h.runImport(flow, w3, true) // the copy's Object Created event
	if refused.ID != started.JobID || refused.Status != jobs.StatusFailed || refused.Message != "nothing was applied: "+p.Detail ||
		!strings.Contains(refused.Message, "(by job "+other.ID+")") {
		t.Fatalf("apply in the window: %s %q, want Failed with %q", refused.Status, refused.Message, p.Detail)
	}
	objs, err = h.db.Objects(tenant).GetObjects(ctx, "work-type", []string{"lunch", "sale"})
	if err != nil || objs["lunch"].Fields["description"] != "Long break" || objs["sale"].Fields["description"] != "Gone again" {
		t.Fatalf("objects after the refused apply %+v %v", objs, err)
	}
	var refusedView struct {
		jobs.Job
		Phase string `json:"failedPhase"`
		Links struct {
			Errors string `json:"errors"`
		} `json:"links"`
	}
	if status, raw = h.call(tenant, "GET", "/v1/jobs/"+refused.ID, nil, &refusedView); status != http.StatusOK || refusedView.ApplyOf != dry3.ID || refusedView.Links.Errors == "" ||
		refusedView.Phase != jobs.PhasePreview {
		t.Fatalf("refused job view (want failedPhase %q): %d %s", jobs.PhasePreview, status, raw)
	}
	// A job that did not fail names no phase.
	if status, raw = h.call(tenant, "GET", "/v1/jobs/"+dry3.ID, nil, nil); status != http.StatusOK || strings.Contains(string(raw), "failedPhase") {
		t.Fatalf("completed dry run's view: %d %s", status, raw)
	}
}
