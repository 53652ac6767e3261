package importflow_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/ident"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
)

const previewSeed = "Name,Description,Type\nLunch,Break,IDLE_CODE\nSale,,WRAP_UP_CODE\n"

// previewFile updates Lunch, leaves Sale as it is, creates Nap (with a
// formula-looking description) and has one bad row.
const previewFile = "Name,Description,Type\nLunch,Long break,IDLE_CODE\nSale,,WRAP_UP_CODE\nNap,=SUM(A1),IDLE_CODE\nBad,,NOPE\n"

// wantChanges is the exact change report of previewFile over previewSeed.
const wantChanges = "\xEF\xBB\xBFRow,Key,Action,Field,Before,After\n" +
	"2,Lunch,updated,Description,Break,Long break\n" +
	"4,Nap,created,Name,,Nap\n" +
	"4,Nap,created,Description,,'=SUM(A1)\n" +
	"4,Nap,created,Type,,IDLE_CODE\n"

// applyEvent plays the API's apply (httpapi.applyJob): an upload grant
// for a new job naming the dry run (ApplyOf), the previewed version copied
// onto its key with that job's metadata, and the copy's Object Created event.
func (h *harness) applyEvent(preview jobs.Job) (importflow.ObjectCreated, string) {
	h.t.Helper()
	ctx := context.Background()
	id, err := ident.NewGenerator(nil).New(time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.db.RegisterUpload(ctx, jobs.UploadGrant{Tenant: preview.Tenant, JobID: id, Key: preview.SourceKey,
		SubmittedBy: "admin@x", ApplyOf: preview.ID}, time.Hour); err != nil {
		h.t.Fatal(err)
	}
	v, err := h.files.CopyVersion(ctx, preview.SourceKey, preview.SourceVersion, map[string]string{
		importflow.MetaJobID: id, importflow.MetaDryRun: "false"})
	if err != nil {
		h.t.Fatal(err)
	}
	var ev importflow.ObjectCreated
	ev.ID, ev.Source, ev.DetailType = "ev-"+v, "aws.s3", "Object Created"
	ev.Detail.Bucket.Name, ev.Detail.Object.Key, ev.Detail.Object.VersionID, ev.Detail.Object.Sequencer = h.bucket, preview.SourceKey, v, v
	return ev, id
}

// applyPreview runs the import the API's apply starts.
func (h *harness) applyPreview(preview jobs.Job) jobs.Job {
	h.t.Helper()
	ev, id := h.applyEvent(preview)
	j := h.run(ev, nil)
	if j.ID != id || j.ApplyOf != preview.ID {
		h.t.Fatalf("apply job %s (applyOf %q), want %s applying %s", j.ID, j.ApplyOf, id, preview.ID)
	}
	return j
}

// TestDryRunChangeReportThenApply: a dry run over two chunks writes the
// exact change report (unchanged and rejected rows not listed), the
// preview can be applied, and applying it lands the previewed changes with
// the previewed counts.
func TestDryRunChangeReportThenApply(t *testing.T) {
	h := newHarness(t, 2)
	ctx := context.Background()
	seed := h.run(h.upload("preview", "work-type", "seed.csv", []byte(previewSeed), nil), nil)
	if seed.Status != jobs.StatusCompleted {
		t.Fatalf("seed: %+v", seed)
	}
	dry := h.run(h.upload("preview", "work-type", "w.csv", []byte(previewFile), map[string]string{"dry-run": "true"}), nil)
	want := jobs.Counts{Total: 4, Processed: 4, Created: 1, Updated: 1, Unchanged: 1, Failed: 1}
	if !dry.DryRun || dry.Counts != want || dry.Chunks != 2 {
		t.Fatalf("dry run: %+v", dry)
	}
	raw, err := h.files.Get(ctx, importflow.ChangesReportKey("preview", dry.ID))
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != wantChanges {
		t.Fatalf("change report\n got: %q\nwant: %q", raw, wantChanges)
	}
	if err := h.flow.CheckPreview(ctx, dry); err != nil {
		t.Fatalf("a fresh preview is refused: %v", err)
	}
	applied := h.applyPreview(dry)
	if applied.DryRun || applied.ID == dry.ID || applied.Counts != want {
		t.Fatalf("apply: %+v, want the preview's counts %+v", applied, want)
	}
	objs, err := h.db.Objects("preview").GetObjects(ctx, "work-type", []string{"lunch", "nap"})
	if err != nil {
		t.Fatal(err)
	}
	if objs["lunch"].Fields["description"] != "Long break" || objs["nap"].Fields["description"] != "=SUM(A1)" {
		t.Fatalf("applied objects: %+v", objs)
	}
	// Applied once, the preview is out of date.
	if err := h.flow.CheckPreview(ctx, dry); bulkerr.KindOf(err) != bulkerr.Stale || !strings.Contains(err.Error(), `"Nap" (row 4) was created since`) {
		t.Fatalf("a preview applied already: %v", err)
	}
	// A real import has no preview.
	if err := h.flow.CheckPreview(ctx, applied); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("applying a real import: %v", err)
	}
}

// TestPreviewRefusedWhenObjectsChanged: an object changed between the
// preview and the apply is named in the refusal; a preview past
// PreviewMaxAge is refused.
func TestPreviewRefusedWhenObjectsChanged(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := context.Background()
	h.run(h.upload("stale", "work-type", "seed.csv", []byte(previewSeed), nil), nil)
	dry := h.run(h.upload("stale", "work-type", "w.csv", []byte(previewFile), map[string]string{"dry-run": "true"}), nil)
	if err := h.flow.CheckPreview(ctx, dry); err != nil {
		t.Fatal(err)
	}
	// The unchanged row's object changes: applying would now change it too.
	other := h.run(h.upload("stale", "work-type", "other.csv", []byte("Name,Description,Type\nSale,Sold,\n"), nil), nil)
	err := h.flow.CheckPreview(ctx, dry)
	if bulkerr.KindOf(err) != bulkerr.Stale || !strings.Contains(err.Error(), `"Sale" (row 3) was changed since (by job `+other.ID+`)`) ||
		strings.Contains(err.Error(), "Lunch") {
		t.Fatalf("changed object: %v", err)
	}

	fresh := h.run(h.upload("stale", "work-type", "w.csv", []byte(previewFile), map[string]string{"dry-run": "true"}), nil)
	now := h.flow.Now
	defer func() { h.flow.Now = now }()
	h.flow.Now = func() time.Time { return fresh.EndedAt.Add(importflow.PreviewMaxAge + time.Minute) }
	if err := h.flow.CheckPreview(ctx, fresh); bulkerr.KindOf(err) != bulkerr.Stale || !strings.Contains(err.Error(), "more than 24 hours ago") {
		t.Fatalf("an old preview: %v", err)
	}
}
