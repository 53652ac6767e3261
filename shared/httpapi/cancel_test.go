package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/jobs"
)

// TestCancelJob: POST /v1/jobs/{id}/cancel through API Gateway's play
// (route from the template, JWT authorizer) with every answer validated
// against openapi.json: a running export ends Cancelled at once with the
// lock free; an import still waiting for the lock ends Cancelled with
// nothing read; a job that has ended is 409; another tenant's job and an
// unknown ID are 404; no token is 401.
func TestCancelJob(t *testing.T) {
	h := newAPIHarness(t)
	ctx := context.Background()
	now := time.Now().UTC()
	newJob := func(tenant string, typ jobs.Type, st jobs.Status) jobs.Job {
		id, _ := h.ids.New(time.Now())
		j := jobs.Job{Tenant: tenant, ID: id, Type: typ, ObjectType: "work-type", FileName: "f.csv", Status: st,
			SubmittedBy: "ops@" + tenant + ".example", SubmittedAt: now, Counts: jobs.Counts{Total: 10}}
		if err := h.db.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	exp := newJob("cancel-a", jobs.TypeExport, jobs.StatusNew)
	if l, err := h.db.AcquireLock(ctx, "cancel-a", exp.ID, time.Minute); err != nil || !l.Acquired {
		t.Fatal(l, err)
	}
	if err := h.db.MarkInProgress(ctx, "cancel-a", exp.ID, 10, 1, now); err != nil {
		t.Fatal(err)
	}
	var got struct {
		jobs.Job
		Percent int `json:"percent"`
	}
	status, raw := h.call("cancel-a", "POST", "/v1/jobs/"+exp.ID+"/cancel", nil, &got)
	if status != http.StatusOK || got.Status != jobs.StatusCancelled || got.CancelledBy != "admin@cancel-a.example" || got.Percent != 100 {
		t.Fatalf("cancel of a running export: %d %s", status, raw)
	}
	if l, err := h.db.PeekLock(ctx, "cancel-a"); err != nil || l.Holder != "" {
		t.Fatalf("lock after the cancel: %+v %v", l, err)
	}
	status, raw = h.call("cancel-a", "POST", "/v1/jobs/"+exp.ID+"/cancel", nil, nil)
	problem(t, status, raw, http.StatusConflict, "CONFLICT")

	imp := newJob("cancel-a", jobs.TypeImport, jobs.StatusNew)
	status, raw = h.call("cancel-a", "POST", "/v1/jobs/"+imp.ID+"/cancel", nil, &got)
	if status != http.StatusOK || got.Status != jobs.StatusCancelled || got.Counts != (jobs.Counts{}) {
		t.Fatalf("cancel of an import waiting for the lock: %d %s", status, raw)
	}
	done := newJob("cancel-a", jobs.TypeImport, jobs.StatusNew)
	if err := h.db.Fail(ctx, "cancel-a", done.ID, "bad file", now); err != nil {
		t.Fatal(err)
	}
	status, raw = h.call("cancel-a", "POST", "/v1/jobs/"+done.ID+"/cancel", nil, nil)
	problem(t, status, raw, http.StatusConflict, "CONFLICT")

	other := newJob("cancel-b", jobs.TypeImport, jobs.StatusNew)
	status, raw = h.call("cancel-a", "POST", "/v1/jobs/"+other.ID+"/cancel", nil, nil)
	problem(t, status, raw, http.StatusNotFound, "NOT_FOUND")
	if j, err := h.db.GetJob(ctx, "cancel-b", other.ID); err != nil || j.Status != jobs.StatusNew || j.CancelledBy != "" {
		t.Fatalf("another tenant's job was touched: %+v %v", j, err)
	}
	status, raw = h.call("cancel-a", "POST", "/v1/jobs/NOTAJOB/cancel", nil, nil)
	problem(t, status, raw, http.StatusNotFound, "NOT_FOUND")
	if status, _ := h.call("", "POST", "/v1/jobs/"+other.ID+"/cancel", nil, nil); status != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", status)
	}
	// The jobs list filters on the new status.
	var page struct {
		Jobs []jobs.Job `json:"jobs"`
	}
	if status, raw := h.call("cancel-a", "GET", "/v1/jobs?status=Cancelled", nil, &page); status != http.StatusOK || len(page.Jobs) != 2 {
		t.Fatalf("jobs?status=Cancelled: %d %s", status, raw)
	}
}
