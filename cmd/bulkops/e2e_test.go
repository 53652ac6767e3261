package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/apiclient"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/dev/audiotest"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/httpapi/openapitest"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// TestCLIEndToEnd runs the CLI against the running dev server: a token for
// a fresh tenant, an import through the API's presigned upload with --wait
// (the workflow runs on the ASL interpreter), the saved error CSV, and the
// job in `jobs` and `job`.
func TestCLIEndToEnd(t *testing.T) {
	r := newE2E(t, "cli-")
	st, tenant, cli := r.st, r.tenant, r.cli
	tok := r.token(t, "ops@"+r.tenant+".example")

	errFile := filepath.Join(t.TempDir(), "errors.csv")
	resFile := filepath.Join(t.TempDir(), "results.csv")
	out, info, err := cli("import", filepath.Join(st.Root, "samples", "work-type.csv"), "--type", "Work Type", "--wait", "--errors-out", errFile, "--results-out", resFile, "--token", tok)
	if exitCode(err) != exitCompletedWithErrors {
		t.Fatalf("import: exit %d (%v), want %d for Completed with errors\n%s\n%s", exitCode(err), err, exitCompletedWithErrors, out, info)
	}
	for _, want := range []string{"Completed with errors", "ops@" + tenant + ".example", "8 total, 5 created, 0 updated, 0 unchanged, 3 failed", "Error CSV saved"} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(info, "\r") {
		t.Errorf("progress drawn though standard error is no terminal:\n%q", info)
	}
	if res, err := os.ReadFile(resFile); err != nil || strings.Count(string(res), "created") != 5 {
		t.Errorf("results CSV: %v %q", err, res)
	}
	saved, err := os.ReadFile(errFile)
	if err != nil || strings.Count(string(saved), "\n") != 4 || !strings.Contains(string(saved), "NOT_ALLOWED") {
		t.Fatalf("error CSV: %v %q", err, saved)
	}

	// A ZIP of prompts through the same API, upload and workflow.
	zipPath := filepath.Join(t.TempDir(), "prompts.zip")
	z, err := audiotest.ZIP(
		audiotest.Entry{Name: "ivr/Welcome.wav", Body: audiotest.WAV(1, 1, 8000, 16, 4000, 0)},
		audiotest.Entry{Name: "ivr/readme.txt", Body: []byte("x")},
	)
	if err != nil || os.WriteFile(zipPath, z, 0o644) != nil {
		t.Fatal(err)
	}
	out, info, err = cli("import", zipPath, "--type", "audio-file", "--wait", "--errors-out", filepath.Join(t.TempDir(), "zip-errors.csv"), "--token", tok)
	if exitCode(err) != exitCompletedWithErrors || !strings.Contains(out, "2 total, 1 created, 0 updated, 0 unchanged, 1 failed") || !strings.Contains(out, "ivr/readme.txt,3,NOT_WAV") {
		t.Fatalf("audio import: %v\n%s\n%s", err, out, info)
	}

	// Export what was imported, through the API and the export function
	// (invoked asynchronously on the dev server's Lambda API).
	zipOut := filepath.Join(t.TempDir(), "export.zip")
	out, info, err = cli("export", "work-type", "--prefix", "cli_", "--wait", "--out", zipOut, "--token", tok)
	if err != nil || !strings.Contains(out, "Completed") {
		t.Fatalf("export: %v\n%s\n%s", err, out, info)
	}
	zr, err := zip.OpenReader(zipOut)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || !strings.HasPrefix(zr.File[0].Name, "WorkType_") {
		t.Fatalf("export parts: %v", zr.File)
	}
	rc, _ := zr.File[0].Open()
	csvBytes, _ := io.ReadAll(rc)
	rc.Close()
	if lines := strings.Count(string(csvBytes), "\r\n"); lines != 6 || !strings.Contains(string(csvBytes), "Lunch") {
		t.Fatalf("exported CSV (%d lines):\n%s", lines, csvBytes)
	}

	out, _, err = cli("jobs", "--status", "Completed with errors", "--token", tok)
	if err != nil || strings.Count(out, "work-type.csv") != 1 {
		t.Fatalf("jobs: %v\n%s", err, out)
	}
	_, _, err = cli("job", "01JZZZZZZZZZZZZZZZZZZZZZZZ", "--token", tok)
	if err == nil || !strings.Contains(err.Error(), "404") || exitCode(err) != exitGeneric {
		t.Fatalf("unknown job: %v", err)
	}
	if _, _, err := cli("jobs", "--token", "not-a-token"); err == nil || !strings.Contains(err.Error(), "401") || exitCode(err) != exitAuth {
		t.Fatalf("bad token: %v", err)
	}

	// -o json prints the API's documents (and the rig validates every
	// answer against openapi.json).
	out, _, err = cli("jobs", "--all", "--limit", "1", "-o", "json", "--token", tok)
	var page struct {
		Jobs []struct{ ID, Status string }
	}
	if err != nil || json.Unmarshal([]byte(out), &page) != nil || len(page.Jobs) != 3 {
		t.Fatalf("jobs --all -o json: %v\n%s", err, out)
	}
	out, _, err = cli("job", page.Jobs[2].ID, "--wait", "-o", "json", "--token", tok)
	var j struct{ ID, Status string }
	if exitCode(err) != exitCompletedWithErrors || json.Unmarshal([]byte(out), &j) != nil || j.ID != page.Jobs[2].ID || j.Status != "Completed with errors" {
		t.Fatalf("job --wait -o json: %d %v\n%s", exitCode(err), err, out)
	}
	if out, _, err = cli("types", "--token", tok); err != nil || !strings.Contains(out, "work-type") || !strings.Contains(out, "queue") {
		t.Fatalf("types: %v\n%s", err, out)
	}
	if out, _, err = cli("types", "Work Type", "--token", tok); err != nil || !strings.Contains(out, "IDLE_CODE") {
		t.Fatalf("types Work Type: %v\n%s", err, out)
	}
}

// TestUploadRefusedByStorage: the real storage's refusal of an upload over
// the form's limit (MinIO's XML EntityTooLarge) reaches the user as a
// sentence.
func TestUploadRefusedByStorage(t *testing.T) {
	r := newE2E(t, "cli-big-")
	c := &apiclient.Client{Base: r.api, Token: r.token(t, "")}
	ctx := context.Background()
	imp, err := c.CreateImport(ctx, "queue", "big.csv", false)
	if err != nil {
		t.Fatal(err)
	}
	size := imp.MaxBytes + 1
	body := io.LimitReader(strings.NewReader(strings.Repeat("Name\n", int(size/5)+1)), size)
	err = c.UploadFile(ctx, imp.Upload, imp.FileName, body, size, imp.MaxBytes, nil)
	var ue *apiclient.UploadError
	if !errors.As(err, &ue) || ue.Code != "EntityTooLarge" || !strings.Contains(ue.Error(), "larger than the limit of 5.0 MB") || strings.Contains(ue.Error(), "<") {
		t.Fatalf("oversize upload: %v", err)
	}
}

// TestCLISchedulesEndToEnd runs the schedule commands against the running
// dev server: create a daily schedule, list it, run a test export (the real
// export function, at most exportspec.TestExportRows objects per type) and
// download its ZIP, see it in the history, suspend, resume and delete.
func TestCLISchedulesEndToEnd(t *testing.T) {
	r := newE2E(t, "cli-sched-")
	cli := r.cli
	tok := r.token(t, "")

	// More work types than a test export writes.
	const objects = exportspec.TestExportRows + 5
	var csv strings.Builder
	csv.WriteString("Name,Description,Type\n")
	for i := range objects {
		fmt.Fprintf(&csv, "Code %02d,test object,IDLE_CODE\n", i)
	}
	csvPath := filepath.Join(t.TempDir(), "codes.csv")
	if err := os.WriteFile(csvPath, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, info, err := cli("import", csvPath, "--type", "work-type", "--wait", "--token", tok); err != nil || !strings.Contains(out, fmt.Sprintf("%d created", objects)) {
		t.Fatalf("import: %v\n%s\n%s", err, out, info)
	}

	out, info, err := cli("schedules", "create", "--title", "CLI nightly", "--types", "work-type,queue", "--frequency", "daily",
		"--time", "03:00", "--tz", "Europe/Berlin", "--prefix", "cli_", "--range", "incremental", "--token", tok)
	if err != nil || !strings.Contains(out, "daily at 03:00 Europe/Berlin") {
		t.Fatalf("create: %v\n%s\n%s", err, out, info)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(info), "schedule "), " created")
	if len(id) != 26 {
		t.Fatalf("no schedule ID in %q", info)
	}
	if out, _, err := cli("schedules", "list", "--token", tok); err != nil || !strings.Contains(out, id) || !strings.Contains(out, "CLI nightly") || !strings.Contains(out, "active") {
		t.Fatalf("list: %v\n%s", err, out)
	}

	zipOut := filepath.Join(t.TempDir(), "test.zip")
	out, info, err = cli("schedules", "test", id, "--wait", "--out", zipOut, "--timeout", "2m", "--token", tok)
	if err != nil || !strings.Contains(out, "Completed") || !strings.Contains(info, "TEST_cli_Export_") {
		t.Fatalf("test export: %v\n%s\n%s", err, out, info)
	}
	zr, err := zip.OpenReader(zipOut)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	rows := map[string]int{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		rows[strings.SplitN(f.Name, "_", 2)[0]] += strings.Count(string(data), "\r\n") - 1 // less the header
	}
	// Every type is written, the 15 work types cut to the test's 10.
	if len(rows) != 2 || rows["WorkType"] != exportspec.TestExportRows || rows["Queue"] != 0 {
		t.Fatalf("test export rows per type: %v (files %v)", rows, zr.File)
	}

	out, _, err = cli("schedules", "runs", id, "--token", tok)
	if err != nil || !strings.Contains(out, "test") || !strings.Contains(out, "Completed") || !strings.Contains(out, fmt.Sprint(exportspec.TestExportRows)) {
		t.Fatalf("runs: %v\n%s", err, out)
	}
	if out, _, err := cli("schedules", "suspend", id, "--token", tok); err != nil || !strings.Contains(out, "suspended") {
		t.Fatalf("suspend: %v\n%s", err, out)
	}
	if out, _, err := cli("schedules", "resume", id, "--token", tok); err != nil || !strings.Contains(out, "active") {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if out, _, err := cli("schedules", "edit", id, "--time", "04:00", "--token", tok); err != nil || !strings.Contains(out, "daily at 04:00 Europe/Berlin") {
		t.Fatalf("edit: %v\n%s", err, out)
	}
	if out, _, err := cli("schedules", "delete", id, "--token", tok); err != nil || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if _, _, err := cli("schedules", "show", id, "--token", tok); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("show after delete: %v", err)
	}
}

// e2eAPI is the dev server's API: BULKOPS_API_URL (infra/local/env.sh sets
// it) or the default address.
func e2eAPI() string {
	if u := os.Getenv("BULKOPS_API_URL"); u != "" {
		return strings.TrimSuffix(u, "/")
	}
	return "http://127.0.0.1:3000/dev"
}

// TestScheduledRunRoundTrips runs a scheduled export the way AWS runs it,
// on the dev server: a "once now" schedule is created with the
// CLI, the dev server's schedule-rule ticker invokes the dispatcher
// function through the Lambda Invoke API, the dispatcher claims the run and
// invokes the export function asynchronously, and the export's end reaches
// the schedule (history, high-water mark, run no longer in progress). The
// run's ZIP, imported back with the CLI, changes nothing: every row is
// "unchanged", including cells that were neutralized against formula
// injection on the way out.
func TestScheduledRunRoundTrips(t *testing.T) {
	r := newE2E(t, "cli-once-")
	tenant, cli := r.tenant, r.cli
	tok := r.token(t, "")
	ctx := context.Background()
	c := &apiclient.Client{Base: r.api, Token: tok}

	const objects = 7
	var in strings.Builder
	in.WriteString("Name,Description,Type\n")
	for i := range objects {
		desc := fmt.Sprintf("\"plain, with \"\"quotes\"\" %d\"", i)
		if i%3 == 0 {
			desc = "=HYPERLINK(\"\"http://x\"\")"
			desc = "\"" + desc + "\""
		}
		fmt.Fprintf(&in, "Code %02d,%s,IDLE_CODE\n", i, desc)
	}
	csvPath := filepath.Join(t.TempDir(), "codes.csv")
	if err := os.WriteFile(csvPath, []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, info, err := cli("import", csvPath, "--type", "work-type", "--wait", "--token", tok); err != nil || !strings.Contains(out, fmt.Sprintf("%d created", objects)) {
		t.Fatalf("import: %v\n%s\n%s", err, out, info)
	}

	_, info, err := cli("schedules", "create", "--title", "Once now", "--types", "work-type", "--frequency", "once",
		"--prefix", "once_", "--token", tok)
	if err != nil {
		t.Fatalf("create: %v\n%s", err, info)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(info), "schedule "), " created")

	// The ticker plays the schedule rule every few seconds.
	var done bulkapi.Run
	deadline := time.Now().Add(2 * time.Minute)
	for done.JobID == "" {
		if time.Now().After(deadline) {
			s, _ := c.Schedule(ctx, id)
			t.Fatalf("no finished scheduled run within 2 minutes; schedule %+v", s)
		}
		runs, err := c.ScheduleRuns(ctx, id, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if r.Status.Final() {
				done = r
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if done.Status != jobs.StatusCompleted || done.Test || done.Rows != objects || done.Files != 1 || done.Links == nil || done.Links.Results == "" || !done.Window.To.IsZero() {
		t.Fatalf("the scheduled run: %+v", done)
	}
	// The run's end reached the schedule (an incremental schedule's
	// high-water mark is covered by shared/exportflow's dispatcher tests).
	var s apiclient.Schedule
	for range 20 { // the hook runs just after the job's final write
		if s, err = c.Schedule(ctx, id); err != nil || s.RunningJob == "" {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil || s.RunningJob != "" || s.LastJob != done.JobID || !s.Submitted || !s.NextRun.IsZero() || s.Failures != 0 {
		t.Fatalf("schedule after its run: %+v %v", s, err)
	}
	// Every transition of the run's job was published (the dev server's
	// EventBridge lists what it received).
	if got := localtest.JobStatuses(t, tenant, done.JobID); strings.Join(got, ",") != "New,In Progress,Completed" {
		t.Fatalf("job events of the scheduled run: %v", got)
	}
	// Once is once: later ticks start nothing more.
	time.Sleep(6 * time.Second)
	if runs, err := c.ScheduleRuns(ctx, id, 10); err != nil || len(runs) != 1 {
		t.Fatalf("runs after more ticks: %d %v", len(runs), err)
	}

	// Round trip: the exported CSV imports back unchanged.
	data, err := c.Download(ctx, done.Links.Results)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(zr.File) != 1 {
		t.Fatalf("export ZIP: %v %v", err, zr)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Contains(part, []byte("'=HYPERLINK")) {
		t.Fatalf("the formula was not neutralized in the export:\n%s", part)
	}
	back := filepath.Join(t.TempDir(), zr.File[0].Name)
	if err := os.WriteFile(back, part, 0o644); err != nil {
		t.Fatal(err)
	}
	out, info, err := cli("import", back, "--type", "work-type", "--wait", "--token", tok)
	if err != nil || !strings.Contains(out, fmt.Sprintf("%d total, 0 created, 0 updated, %d unchanged, 0 failed", objects, objects)) {
		t.Fatalf("re-import of the export: %v\n%s\n%s", err, out, info)
	}
}

// e2eRig is a fresh tenant on the running dev server and the CLI run
// against its API.
type e2eRig struct {
	t      *testing.T
	st     *localtest.Stack
	api    string
	tenant string
}

// newE2E checks that the dev server's API is up and makes a tenant whose
// name starts with prefix.
func newE2E(t *testing.T, prefix string) *e2eRig {
	t.Helper()
	st := localtest.Require(t)
	// The dev server's API; on LocalStack the dev server fronts the
	// deployed stack's (localtest.RunningStack).
	localtest.RunningStack(t, st)
	api := e2eAPI()
	resp, err := http.Get(api + "/v1/health")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the dev server's API is not up at %s (make stack-up): %v", api, err)
	}
	resp.Body.Close()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &e2eRig{t: t, st: st, api: api, tenant: prefix + hex.EncodeToString(b[:])}
}

// cli runs the CLI with args against the API: its output and its progress
// and information lines. Every answer of the API is validated against
// openapi.json.
func (r *e2eRig) cli(args ...string) (string, string, error) {
	var out, info bytes.Buffer
	a := newApp(&out, &info, os.Getenv)
	a.httpClient = openapitest.Client(r.t, r.api)
	a.httpClient.Timeout = time.Minute
	err := a.execute(context.Background(), append(args, "--api", r.api))
	return out.String(), info.String(), err
}

// token is a local token for the rig's tenant and user.
func (r *e2eRig) token(t *testing.T, user string) string {
	t.Helper()
	args := []string{"token", "--tenant", r.tenant, "--key", filepath.Join(r.st.Root, ".tools", "run", "jwt-key.pem")}
	if user != "" {
		args = append(args, "--user", user)
	}
	tok, _, err := r.cli(args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(tok)
}
