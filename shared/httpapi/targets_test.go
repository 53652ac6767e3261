package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ccbulk/bulkops/shared/dev/deliverytest"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/schedule"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

type targetOut struct {
	ID   string
	Name string
	Kind string
	SFTP *struct {
		Host, User, Folder, HostKey, HostKeyFingerprint, Auth, CredentialArn string
		Port                                                                 int
	}
}

type testOut struct {
	OK       bool
	Phase    string
	Sentence string
}

// TestTargets: create an SFTP target (its password goes to Secrets
// Manager only), list, read, test it against a real SFTP server, name it
// in exports and schedules, refuse a bad one, another tenant's, a wrong
// host key, and delete it; the password is in no answer, table item or log
// line.
func TestTargets(t *testing.T) {
	h := newAPIHarness(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	rig := deliverytest.New(t, log, 0)
	h.api.Credentials, h.api.Deliver, h.api.Log = rig.Store, rig.Deliver, log
	h.api.Exports = &recordExports{}
	host, port := rig.Addr()
	var answers []string
	call := func(tenant, method, path string, body, out any) (int, []byte) {
		t.Helper()
		status, raw := h.call(tenant, method, path, body, out)
		answers = append(answers, string(raw))
		return status, raw
	}
	sftp := func(extra map[string]any) map[string]any {
		m := map[string]any{"host": host, "port": port, "user": "exports", "hostKey": "[127.0.0.1]:22 " + rig.HostKey(), "password": deliverytest.Password}
		for k, v := range extra {
			m[k] = v
		}
		return map[string]any{"name": "HQ exports", "kind": "sftp", "sftp": m}
	}

	// An operator allows the kinds a tenant may deliver to; until then only
	// s3link targets can be made.
	var tg targetOut
	if status, raw := call("acme", "POST", "/v1/targets", sftp(nil), nil); status != 403 || !strings.Contains(string(raw), "deliveryTargets") {
		t.Fatalf("an sftp target without the operator's allowance: %d %s", status, raw)
	}
	if err := h.db.PutTenantSettings(context.Background(), "acme", tenancy.Settings{DeliveryTargets: []string{tenancy.TargetSFTP, tenancy.TargetS3Bucket}}); err != nil {
		t.Fatal(err)
	}
	if status, raw := call("acme", "POST", "/v1/targets", sftp(nil), &tg); status != 201 {
		t.Fatalf("create: %d %s", status, raw)
	}
	if tg.ID == "" || tg.Kind != "sftp" || tg.SFTP == nil || tg.SFTP.Auth != "password" || tg.SFTP.HostKey != rig.HostKey() ||
		!strings.HasPrefix(tg.SFTP.HostKeyFingerprint, "SHA256:") || !strings.Contains(tg.SFTP.CredentialArn, ":secret:bulkops/targets/acme/"+tg.ID+"-") {
		t.Fatalf("created %+v %+v", tg, tg.SFTP)
	}
	var page struct{ Targets []targetOut }
	if status, raw := call("acme", "GET", "/v1/targets", nil, &page); status != 200 || len(page.Targets) != 1 || page.Targets[0].ID != tg.ID {
		t.Fatalf("list: %d %s", status, raw)
	}
	if status, raw := call("other", "GET", "/v1/targets/"+tg.ID, nil, nil); status != 404 {
		t.Errorf("another tenant's target: %d %s", status, raw)
	}
	var res testOut
	if status, raw := call("acme", "POST", "/v1/targets/"+tg.ID+"/test", nil, &res); status != 200 || !res.OK ||
		res.Sentence != "reached "+rig.SFTP.Addr()+", authenticated as exports, folder (login folder) writable" {
		t.Fatalf("test: %d %s", status, raw)
	}

	// A wrong host key is refused by the test, naming the phase.
	other := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	var bad targetOut
	if status, raw := call("acme", "POST", "/v1/targets", sftp(map[string]any{"hostKey": other}), &bad); status != 201 {
		t.Fatalf("create with another key: %d %s", status, raw)
	}
	if status, raw := call("acme", "POST", "/v1/targets/"+bad.ID+"/test", nil, &res); status != 200 || res.OK || res.Phase != "host-key" ||
		!strings.Contains(res.Sentence, "not the pinned SHA256:") {
		t.Errorf("wrong host key: %d %s", status, raw)
	}

	// Refusals, each naming what is wrong, with a pointer at each wrong field.
	for _, c := range []struct {
		name     string
		body     map[string]any
		pointers []string
	}{
		{"no host key", sftp(map[string]any{"hostKey": ""}), []string{"/sftp/hostKey"}},
		{"dsa key", sftp(map[string]any{"hostKey": "ssh-dss AAAAB3NzaC1kc3M="}), []string{"/sftp/hostKey"}},
		{"no host, a bad port", sftp(map[string]any{"host": "", "port": 70000}), []string{"/sftp/host", "/sftp/port"}},
		{"no credential", sftp(map[string]any{"password": ""}), []string{"/sftp/auth"}}, // auth follows the credential: none, no auth
		{"both", sftp(map[string]any{"privateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----"}), []string{"/sftp/privateKey"}},
		{"auth and credential disagree", sftp(map[string]any{"auth": "private-key"}), []string{"/sftp/auth"}},
		{"bad kind", map[string]any{"name": "x", "kind": "ftp"}, []string{"/kind"}},
		{"unknown field", map[string]any{"name": "x", "kind": "sftp", "sftp": map[string]any{"host": "h", "secret": "x"}}, []string{"/secret"}}, // decodeBody names the unknown field, not its path
		{"bucket", map[string]any{"name": "lake", "kind": "s3bucket", "bucket": map[string]any{"bucket": "Bad_Bucket", "region": "eu-central-1", "roleArn": "arn:aws:iam::123456789012:role/r"}}, []string{"/bucket/bucket"}},
		{"no name, bucket region and role", map[string]any{"name": " ", "kind": "s3bucket", "bucket": map[string]any{"bucket": "lake", "region": "mars", "roleArn": "role"}}, []string{"/name", "/bucket/region", "/bucket/roleArn"}},
	} {
		status, raw := call("acme", "POST", "/v1/targets", c.body, nil)
		p := problem(t, status, raw, 400, "INVALID_REQUEST")
		if strings.Contains(p.Detail, deliverytest.Password) {
			t.Errorf("%s: the password is in the problem: %s", c.name, raw)
		}
		var got []string
		for _, e := range p.Errors {
			got = append(got, e.Pointer)
			if e.Detail == "" || !strings.Contains(p.Detail, e.Detail) {
				t.Errorf("%s: entry %+v is not part of the detail %q", c.name, e, p.Detail)
			}
		}
		if strings.Join(got, " ") != strings.Join(c.pointers, " ") {
			t.Errorf("%s: pointers %q, want %q: %s", c.name, got, c.pointers, raw)
		}
	}

	// Exports and schedules name a target of the tenant's.
	status, raw := call("acme", "POST", "/v1/exports", map[string]any{"objectTypes": []string{"queue"}, "targetId": "01JNOTATARGET0000000000000"}, nil)
	problem(t, status, raw, 400, "INVALID_REQUEST")
	body := dailyBody("To HQ")
	body["targetId"] = "01JNOTATARGET0000000000000"
	status, raw = call("acme", "POST", "/v1/schedules", body, nil)
	problem(t, status, raw, 400, "INVALID_REQUEST")
	body["targetId"] = tg.ID
	s := h.createSchedule("acme", body)
	if status, raw := call("acme", "DELETE", "/v1/targets/"+tg.ID, nil, nil); status != 409 {
		t.Errorf("delete a target a schedule names: %d %s", status, raw)
	}

	// A run's history shows where its file went.
	ctx := context.Background()
	j := h.addJob("acme", "nightly_Queue.zip", jobs.StatusCompleted, jobs.TypeExport)
	dest := "sftp://exports@" + rig.SFTP.Addr() + "/~/nightly_Queue.zip"
	if err := h.db.SetDelivery(ctx, "acme", j.ID, jobs.Delivery{TargetID: tg.ID, TargetName: "HQ exports", Kind: "sftp", Destination: dest, RemoteName: "nightly_Queue.zip", Bytes: 10}); err != nil {
		t.Fatal(err)
	}
	if err := h.db.RecordRun(ctx, schedule.Run{Tenant: "acme", ScheduleID: s.ID, JobID: j.ID, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var runs struct {
		Runs []struct{ Delivery *jobs.Delivery }
	}
	if status, raw := call("acme", "GET", "/v1/schedules/"+s.ID+"/runs", nil, &runs); status != 200 || len(runs.Runs) != 1 ||
		runs.Runs[0].Delivery == nil || runs.Runs[0].Delivery.Destination != dest || runs.Runs[0].Delivery.RemoteName != "nightly_Queue.zip" {
		t.Errorf("runs: %d %s", status, raw)
	}
	var jv struct{ Delivery *jobs.Delivery }
	if status, raw := call("acme", "GET", "/v1/jobs/"+j.ID, nil, &jv); status != 200 || jv.Delivery == nil || jv.Delivery.Destination != dest {
		t.Errorf("job: %d %s", status, raw)
	}

	// Delete: the target and its secret go.
	if status, raw := call("acme", "DELETE", "/v1/targets/"+bad.ID, nil, nil); status != 204 {
		t.Fatalf("delete: %d %s", status, raw)
	}
	if status, _ := call("acme", "GET", "/v1/targets/"+bad.ID, nil, nil); status != 404 {
		t.Errorf("deleted target still there: %d", status)
	}
	for _, n := range rig.Secrets.Names() {
		if strings.HasSuffix(n, "/"+bad.ID) {
			t.Errorf("the deleted target's secret %s is still kept", n)
		}
	}

	// The password is in no answer, log line or table item.
	for _, table := range []string{h.st.Ref("ControlTable"), h.st.Ref("JobsTable")} {
		out, err := h.st.Clients.DynamoDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(out.Items)
		if strings.Contains(string(raw), deliverytest.Password) {
			t.Errorf("the password is stored in table %s", table)
		}
	}
	if all := strings.Join(answers, "\n") + logs.String(); strings.Contains(all, deliverytest.Password) {
		t.Error("the password is in an answer or a log line")
	}
}
