package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/apiclient"
)

// TestGAXCSVAndStableNameEndToEnd runs on the dev server, through the API,
// the import workflow and the export function: GAX agents imported from a
// Y/N file export with --format csv --stable-name as gax_AgentGAX.csv (the
// link's file name too) with Y/N cells, and that CSV imports back with
// every row unchanged. A stable ZIP exported twice is one key that the
// second run replaced, yet each job's link gives the file its own run
// wrote (the link names the run's S3 version). A csv of two types is
// refused before a job starts.
func TestGAXCSVAndStableNameEndToEnd(t *testing.T) {
	r := newE2E(t, "cli-fmt-")
	cli := r.cli
	tok := r.token(t, "")
	ctx := context.Background()
	c := &apiclient.Client{Base: r.api, Token: tok}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	importWait := func(path, typ, want string) {
		t.Helper()
		out, info, err := cli("import", path, "--type", typ, "--wait", "--token", tok)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("import %s: %v, want %q\n%s\n%s", filepath.Base(path), err, want, out, info)
		}
	}
	importWait(write("skills.csv", "Name,Type\nSpanish,PROFICIENCY\n"), "skill-definition", "1 created")
	gax := "Action,First Name,Last Name,Employee ID,User Name,Password Change,Agent,Enabled,Folder,Skill:Spanish,Agent Group:Tier 1\n" +
		"ADD,Sarah,Lee,223344,sarahl@acme.com,N,Y,Y,Acme/Branch/Team 1,8,Y\n" +
		"ADD,Bob,Ray,1,bob@acme.com,Y,N,N,Acme,,\n"
	importWait(write("agents.csv", gax), "agent", "2 created")

	csvOut := filepath.Join(dir, "out.csv")
	out, info, err := cli("export", "agent", "--format", "csv", "--stable-name", "--prefix", "gax_", "--wait", "--out", csvOut, "--token", tok)
	if err != nil || !strings.Contains(info, "(gax_AgentGAX.csv)") || !strings.Contains(out, "Completed") {
		t.Fatalf("csv export: %v\n%s\n%s", err, out, info)
	}
	data, err := os.ReadFile(csvOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\xEF\xBB\xBFAction,", "\r\nUPDATE,Bob,Ray,1,bob@acme.com,,Y,N,", ",N,Acme,", "\r\nUPDATE,Sarah,Lee,223344,sarahl@acme.com,,N,Y,", ",Y,Acme/Branch/Team 1,8,Y\r\n"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("the exported CSV lacks %q:\n%s", want, data)
		}
	}
	if bytes.Contains(data, []byte("true")) || bytes.Contains(data, []byte("false")) {
		t.Errorf("a GAX Boolean exported as true/false:\n%s", data)
	}
	// The link names the file as the job does.
	id := regexp.MustCompile(`export job (\S+) started`).FindStringSubmatch(info)[1]
	j, err := c.Job(ctx, id)
	if err != nil || j.Links == nil {
		t.Fatalf("job %s: %+v %v", id, j, err)
	}
	resp, err := http.Get(j.Links.Results)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, `filename="gax_AgentGAX.csv"`) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("link: %s %q %q", resp.Status, cd, resp.Header.Get("Content-Type"))
	}
	importWait(csvOut, "agent", "2 total, 0 created, 0 updated, 2 unchanged, 0 failed")

	// A stable ZIP, twice, with an agent more in between.
	zipIDs := []string{}
	for i, users := range []int{2, 3} {
		if i == 1 {
			importWait(write("more.csv", "Action,First Name,Last Name,Employee ID,User Name,Agent,Folder\nADD,Kim,Ito,2,kim@acme.com,Y,Acme\n"), "agent", "1 created")
		}
		out, info, err := cli("export", "agent", "--stable-name", "--prefix", "gax_", "--wait", "--out", filepath.Join(dir, fmt.Sprintf("run%d.zip", i)), "--token", tok)
		if err != nil || !strings.Contains(info, "(gax_AgentGAX.zip)") {
			t.Fatalf("stable zip %d: %v\n%s\n%s", i, err, out, info)
		}
		zipIDs = append(zipIDs, regexp.MustCompile(`export job (\S+) started`).FindStringSubmatch(info)[1])
		j, err := c.Job(ctx, zipIDs[i])
		if err != nil || j.Counts.Processed != users {
			t.Fatalf("stable zip %d: %+v %v", i, j.Counts, err)
		}
	}
	first, err := c.Job(ctx, zipIDs[0])
	if err != nil || first.Links == nil {
		t.Fatalf("first stable job: %+v %v", first, err)
	}
	got, err := c.Download(ctx, first.Links.Results)
	if err != nil {
		t.Fatal(err)
	}
	// Each run's link downloads the file that run wrote (its S3 version),
	// though the second run replaced it at the stable key.
	own, _ := os.ReadFile(filepath.Join(dir, "run0.zip"))
	second, _ := os.ReadFile(filepath.Join(dir, "run1.zip"))
	if bytes.Equal(own, second) {
		t.Fatal("the two runs wrote the same file: the test cannot tell them apart")
	}
	if !bytes.Equal(got, own) {
		t.Fatal("the first run's link does not give the first run's file (it gives the file that replaced it)")
	}
	secondJob, err := c.Job(ctx, zipIDs[1])
	if err != nil || secondJob.Links == nil {
		t.Fatalf("second stable job: %+v %v", secondJob, err)
	}
	if got, err := c.Download(ctx, secondJob.Links.Results); err != nil || !bytes.Equal(got, second) {
		t.Fatalf("the second run's link does not give its file (%v)", err)
	}

	// csv of two types: 400 before any job.
	if _, info, err := cli("export", "agent,skill-definition", "--format", "csv", "--token", tok); err == nil || !strings.Contains(err.Error(), "one object type") {
		t.Fatalf("csv of two types: %v\n%s", err, info)
	}
}
