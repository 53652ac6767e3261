package exportflow_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ccbulk/bulkops/shared/delivery"
	"github.com/ccbulk/bulkops/shared/dev/deliverytest"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// deliverExport runs one export job of work types that names target tid.
func (r *outputRig) deliverExport(tenant, tid string, o exportspec.Options) jobs.Job {
	r.t.Helper()
	r.n++
	id := fmt.Sprintf("01JDELIVER%016d", r.n)
	name := "nightly_WorkType.zip"
	if !o.StableName {
		name = fmt.Sprintf("nightly_WorkType_%d.zip", r.n)
	}
	if l, err := r.db.AcquireLock(r.ctx, tenant, id, time.Minute); err != nil || !l.Acquired {
		r.t.Fatalf("lock: %+v %v", l, err)
	}
	if err := r.db.CreateJob(r.ctx, jobs.Job{Tenant: tenant, ID: id, Type: jobs.TypeExport, ObjectType: "work-type",
		FileName: name, Status: jobs.StatusNew, SubmittedBy: "t@" + tenant, SubmittedAt: time.Now().UTC()}); err != nil {
		r.t.Fatal(err)
	}
	raw, _ := json.Marshal(exportflow.Request{Tenant: tenant, JobID: id, ObjectTypes: []string{"work-type"}, Prefix: "nightly_", Options: o, TargetID: tid})
	if _, err := r.flow.Handle(r.ctx, raw); err != nil {
		r.t.Fatal(err)
	}
	j, err := r.db.GetJob(r.ctx, tenant, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return j
}

// TestExportDeliveredToSFTP: an export that names an SFTP target lands on
// the tenant's server (the local SFTP server) under the job's file name,
// the job records where, a stable name is replaced by the next run, and a
// delivery that fails fails the job with the phase named.
func TestExportDeliveredToSFTP(t *testing.T) {
	r := newOutputRig(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	rig := deliverytest.New(t, log, 200)
	r.flow.Deliver, r.flow.Log = rig.Deliver, log
	tenant := "deliver-" + strings.ToLower(t.Name()[len(t.Name())-4:])
	r.seed(tenant, 0, 30)
	if err := os.MkdirAll(filepath.Join(rig.SFTP.Home("exports"), "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	targets := map[string]delivery.Target{
		"ok":     rig.Target(t, tenant, "01JTARGET0000000000000000A", "exports", "/in"),
		"denied": rig.Target(t, tenant, "01JTARGET0000000000000000B", "exports", "/denied"),
		"full":   rig.Target(t, tenant, "01JTARGET0000000000000000C", "full", ""),
	}
	for _, tg := range targets {
		if err := r.db.PutTarget(r.ctx, tg); err != nil {
			t.Fatal(err)
		}
	}

	stable := exportspec.Options{StableName: true}
	j := r.deliverExport(tenant, targets["ok"].ID, stable)
	if j.Status != jobs.StatusCompleted || j.Delivery == nil {
		t.Fatalf("job %s %q, delivery %+v", j.Status, j.Message, j.Delivery)
	}
	host, port := rig.Addr()
	want := fmt.Sprintf("sftp://exports@%s:%d/in/nightly_WorkType.zip", host, port)
	if d := j.Delivery; d.Destination != want || d.RemoteName != "nightly_WorkType.zip" || d.Phase != "" || d.Kind != "sftp" || d.Bytes == 0 {
		t.Errorf("delivery %+v, want destination %s", d, want)
	}
	remote := filepath.Join(rig.SFTP.Home("exports"), "in", "nightly_WorkType.zip")
	got, err := os.ReadFile(remote)
	if err != nil {
		t.Fatal(err)
	}
	// The same bytes as the ZIP behind the download link.
	bucket := r.st.Ref("DataBucket")
	obj, err := r.st.Clients.S3.GetObject(r.ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &j.ResultsKey})
	if err != nil {
		t.Fatal(err)
	}
	zip, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !bytes.Equal(got, zip) || int64(len(got)) != j.Delivery.Bytes {
		t.Errorf("remote file has %d bytes, the export %d", len(got), len(zip))
	}
	// The next run replaces the stable file.
	r.seed(tenant, 30, 60)
	before := len(got)
	if j := r.deliverExport(tenant, targets["ok"].ID, stable); j.Status != jobs.StatusCompleted {
		t.Fatalf("second run: %s %q", j.Status, j.Message)
	}
	if got, _ = os.ReadFile(remote); len(got) <= before {
		t.Errorf("the stable file was not replaced: %d bytes, was %d", len(got), before)
	}
	if entries, _ := os.ReadDir(filepath.Dir(remote)); len(entries) != 1 {
		t.Errorf("the folder holds %d files", len(entries))
	}

	// Failures: a failed run, naming the target and the phase.
	for name, phase := range map[string]delivery.Phase{"denied": delivery.PhaseFolder, "full": delivery.PhaseWrite} {
		j := r.deliverExport(tenant, targets[name].ID, exportspec.Options{})
		if j.Status != jobs.StatusFailed || j.Delivery == nil || j.Delivery.Phase != string(phase) ||
			!strings.Contains(j.Message, "delivery to rig ") || !strings.Contains(j.Message, "failed at "+string(phase)) {
			t.Errorf("%s: job %s %q, delivery %+v", name, j.Status, j.Message, j.Delivery)
		}
		// The failure notice's phase names the delivery step (recorded on the job).
		if got := jobs.FailurePhase(j); got != jobs.DeliveryPhase(string(phase)) || j.FailedPhase != got {
			t.Errorf("%s: failure phase %q (recorded %q), want %q", name, got, j.FailedPhase, jobs.DeliveryPhase(string(phase)))
		}
		t.Logf("%s: %s", name, j.Message)
	}
	// A target deleted meanwhile.
	if j := r.deliverExport(tenant, "01JTARGET0000000000000000Z", exportspec.Options{}); j.Status != jobs.StatusFailed || !strings.Contains(j.Message, "no longer exists") ||
		jobs.FailurePhase(j) != "delivery (config)" {
		t.Errorf("gone target: %s %q phase %q", j.Status, j.Message, jobs.FailurePhase(j))
	}
	if strings.Contains(logs.String(), deliverytest.Password) {
		t.Error("the SFTP password is in the logs")
	}
}
