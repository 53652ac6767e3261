package importflow_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
)

func uniqueTenant(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e9)
}

// TestApplyRefusedWhenAnObjectChangesAfterTheAPICheck: the API's check
// passes, then, before the apply job holds the tenant lock, another
// import changes an object the preview read. The apply job re-checks under
// the lock (Prepare) and ends Failed with the API's sentence, before any
// chunk ran: nothing written (the create is absent, the update not made),
// its reports written (every row NOT_PROCESSED; results header only), the
// lock free. Against MinIO and DynamoDB Local.
func TestApplyRefusedWhenAnObjectChangesAfterTheAPICheck(t *testing.T) {
	h := newHarness(t, 2)
	ctx := context.Background()
	tenant := uniqueTenant("window")
	h.run(h.upload(tenant, "work-type", "seed.csv", []byte(previewSeed), nil), nil)
	dry := h.run(h.upload(tenant, "work-type", "w.csv", []byte(previewFile), map[string]string{"dry-run": "true"}), nil)
	if err := h.flow.CheckPreview(ctx, dry); err != nil { // the API's early check
		t.Fatal(err)
	}
	ev, id := h.applyEvent(dry) // the API answered 202; the copy's event is on its way
	sr, err := h.flow.Start(ctx, ev)
	if err != nil || sr.Job.JobID != id || sr.Job.ApplyOf != dry.ID {
		t.Fatalf("start: %+v %v", sr, err)
	}

	// The window: another bulk operation runs before the apply takes the
	// lock and changes the unchanged row's object.
	other := h.run(h.upload(tenant, "work-type", "other.csv", []byte("Name,Description,Type\nSale,Sold,\n"), nil), nil)
	if other.Status != jobs.StatusCompleted || other.Counts.Updated != 1 {
		t.Fatalf("other: %s %+v", other.Status, other.Counts)
	}
	sentence := bulkerr.Message(h.flow.CheckPreview(ctx, dry)) // what the API's 412 would say now

	j := sr.Job
	if ls, err := h.flow.AcquireLock(ctx, j, importflow.LockState{}); err != nil || !ls.Acquired {
		t.Fatalf("lock: %+v %v", ls, err)
	}
	_, err = h.flow.Prepare(ctx, j)
	if bulkerr.KindOf(err) != bulkerr.Stale || !strings.Contains(err.Error(), `"Sale" (row 3) was changed since (by job `+other.ID+`)`) {
		t.Fatalf("prepare of the apply: %v", err)
	}
	// The state machine's Catch: MarkFailed keeps the status, announces.
	if err := h.flow.MarkFailed(ctx, j, &importflow.StateError{Error: "Bulk.Stale", Cause: fmt.Sprintf(`{"errorMessage":%q}`, bulkerr.Message(err))}); err != nil {
		t.Fatal(err)
	}
	got, err := h.db.GetJob(ctx, tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != jobs.StatusFailed || got.Message != "nothing was applied: "+sentence || got.ApplyOf != dry.ID {
		t.Fatalf("apply job: %s %q applyOf %q\nwant the sentence %q", got.Status, got.Message, got.ApplyOf, sentence)
	}
	if jobs.FailurePhase(got) != jobs.PhasePreview {
		t.Fatalf("failure phase %q, want %q", jobs.FailurePhase(got), jobs.PhasePreview)
	}
	if got.Counts.Created+got.Counts.Updated != 0 || got.Counts.Total != 4 {
		t.Fatalf("counts: %+v", got.Counts)
	}
	// Nothing written.
	objs, err := h.db.Objects(tenant).GetObjects(ctx, "work-type", []string{"lunch", "sale", "nap"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := objs["nap"]; ok || objs["lunch"].Fields["description"] != "Break" || objs["sale"].Fields["description"] != "Sold" {
		t.Fatalf("objects after a refused apply: %+v", objs)
	}
	// Its reports: every row not processed, nothing in the results.
	errs := h.csv(got.ErrorKey)
	if len(errs) != 5 {
		t.Fatalf("error CSV: %v", errs)
	}
	for _, r := range errs[1:] {
		if r[4] != "NOT_PROCESSED" || !strings.Contains(r[5], "not applied: dry run "+dry.ID) {
			t.Fatalf("error row %v", r)
		}
	}
	if res := h.csv(got.ResultsKey); len(res) != 1 {
		t.Fatalf("results CSV: %v", res)
	}
	if l, err := h.db.PeekLock(ctx, tenant); err != nil || l.Holder != "" {
		t.Fatalf("lock after the refusal: %+v %v", l, err)
	}
	// A retried Prepare (the lock is gone) changes nothing.
	if _, err := h.flow.Prepare(ctx, j); err == nil {
		t.Fatal("a second Prepare of a refused apply succeeded")
	}
	if again, _ := h.db.GetJob(ctx, tenant, id); again.Status != jobs.StatusFailed || again.Message != got.Message {
		t.Fatalf("after a retried prepare: %s %q", again.Status, again.Message)
	}
}

// TestApplyAppliesThePreviewedDecisions: the preview rejects a team whose
// site does not exist; the site is imported afterwards (no object the
// preview read changes, so the apply passes its check). The apply applies
// exactly the previewed decisions: the team it previewed as created is
// created with the object ID the preview reported, the rejected one stays
// rejected with the preview's code though its site now exists. The plan
// runs in the Distributed Map (threshold 1 chunk).
func TestApplyAppliesThePreviewedDecisions(t *testing.T) {
	h := newHarness(t, 1)
	h.flow.Config.DistributedChunks = 1
	ctx := context.Background()
	tenant := uniqueTenant("exact")
	site := h.run(h.upload(tenant, "site", "s.csv", []byte("Name,Multimedia Profile\nAustin,Default\n"), nil), nil)
	if site.Status != jobs.StatusCompleted {
		t.Fatalf("site: %s %+v %q", site.Status, site.Counts, site.Message)
	}
	teams := "Name,Site,Type\nTier 1,Austin,AGENT\nTier 2,Boston,AGENT\n"
	dry := h.run(h.upload(tenant, "team", "t.csv", []byte(teams), map[string]string{"dry-run": "true"}), nil)
	if dry.Counts.Created != 1 || dry.Counts.Failed != 1 || dry.Chunks != 2 {
		t.Fatalf("dry run: %s %+v %q", dry.Status, dry.Counts, dry.Message)
	}
	if boston := h.run(h.upload(tenant, "site", "s2.csv", []byte("Name,Multimedia Profile\nBoston,Default\n"), nil), nil); boston.Counts.Created != 1 {
		t.Fatalf("boston: %+v", boston.Counts)
	}
	applied := h.applyPreview(dry)
	if applied.Status != jobs.StatusCompletedWithErrs || applied.Counts != dry.Counts {
		t.Fatalf("apply: %s %+v %q, want the preview's counts %+v", applied.Status, applied.Counts, applied.Message, dry.Counts)
	}
	errs := h.csv(applied.ErrorKey)
	if len(errs) != 2 || errs[1][0] != "Tier 2" || errs[1][len(errs[1])-2] != "UNKNOWN_REFERENCE" {
		t.Fatalf("apply's error CSV: %v", errs)
	}
	if a, d := h.csv(applied.ResultsKey), h.csv(dry.ResultsKey); fmt.Sprint(a) != fmt.Sprint(d) {
		t.Fatalf("apply's results %v, preview's %v", a, d)
	}
	var teamsStored []string
	if err := h.db.Objects(tenant).Each(ctx, "team", func(o catalog.Object) error {
		teamsStored = append(teamsStored, o.Name+" "+o.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if res := h.csv(applied.ResultsKey); len(teamsStored) != 1 || len(res) != 2 || teamsStored[0] != "Tier 1 "+res[1][2] {
		t.Fatalf("teams stored %v, results %v", teamsStored, res)
	}
}

// failingReads fails every object read of the keys: a dry run's chunk
// holding one of them fails for good.
type failingReads struct {
	importflow.ObjectStore
	keys map[string]bool
}

func (f failingReads) GetObjects(ctx context.Context, typ string, keys []string) (map[string]catalog.Object, error) {
	for _, k := range keys {
		if f.keys[k] {
			return nil, bulkerr.New(bulkerr.Internal, "injected: reading %s failed", k)
		}
	}
	return f.ObjectStore.GetObjects(ctx, typ, keys)
}

// TestApplyLeavesUnpreviewedChunksUnapplied: a chunk of the dry run failed
// for good, so its rows were never previewed; the apply does not decide
// them anew: they are NOT_PROCESSED in its error CSV ("not previewed"),
// the other chunk is applied.
func TestApplyLeavesUnpreviewedChunksUnapplied(t *testing.T) {
	h := newHarness(t, 2)
	h.catchChunks = true
	tenant := uniqueTenant("unpreviewed")
	orig := h.flow.Objects
	defer func() { h.flow.Objects = orig }()
	h.flow.Objects = func(tn string) importflow.ObjectStore {
		return failingReads{ObjectStore: orig(tn), keys: map[string]bool{"code 03": true}}
	}
	body := "Name,Description,Type\n" + codes(4, 0, "IDLE_CODE")
	dry := h.run(h.upload(tenant, "work-type", "c.csv", []byte(body), map[string]string{"dry-run": "true"}), nil)
	if dry.Status != jobs.StatusCompletedWithErrs || dry.Counts.Created != 2 || dry.Counts.Failed != 2 {
		t.Fatalf("dry run: %s %+v %q", dry.Status, dry.Counts, dry.Message)
	}
	h.flow.Objects = orig
	applied := h.applyPreview(dry)
	if applied.Counts.Created != 2 || applied.Counts.Failed != 2 || !strings.Contains(applied.Message, "not previewed") {
		t.Fatalf("apply: %s %+v %q", applied.Status, applied.Counts, applied.Message)
	}
	errs := h.csv(applied.ErrorKey)
	if len(errs) != 3 || errs[1][4] != "NOT_PROCESSED" || !strings.Contains(errs[1][5], "not previewed: this chunk failed in dry run "+dry.ID) {
		t.Fatalf("apply's error CSV: %v", errs)
	}
	if n := h.objectCount(t, tenant, 2); n != 2 {
		t.Fatalf("%d objects, want 2", n)
	}
}
