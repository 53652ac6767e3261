package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/audiozip/audiotest"
	"github.com/ccbulk/bulkops/shared/localtest"
)

// TestCLIEndToEnd runs the CLI against the running dev server: a token for
// a fresh tenant, an import through the API's presigned upload with --wait
// (the workflow runs on the ASL interpreter), the saved error CSV, and the
// job in `jobs` and `job`.
func TestCLIEndToEnd(t *testing.T) {
	st := localtest.Require(t)
	api := "http://127.0.0.1:3000"
	resp, err := http.Get(api + "/v1/health")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the dev server's API is not up at %s (make stack-up): %v", api, err)
	}
	resp.Body.Close()
	var b [4]byte
	_, _ = rand.Read(b[:])
	tenant := "cli-" + hex.EncodeToString(b[:])
	ctx := context.Background()
	cli := func(args ...string) (string, string, error) {
		var out, info bytes.Buffer
		err := run(ctx, append(args, "--api", api), &out, &info)
		return out.String(), info.String(), err
	}
	key := filepath.Join(st.Root, ".tools", "run", "jwt-key.pem")
	tok, _, err := cli("token", "--tenant", tenant, "--user", "ops@"+tenant+".example", "--key", key)
	if err != nil {
		t.Fatal(err)
	}
	tok = strings.TrimSpace(tok)

	errFile := filepath.Join(t.TempDir(), "errors.csv")
	out, info, err := cli("import", filepath.Join(st.Root, "samples", "work-type.csv"), "--type", "Work Type", "--wait", "--errors-out", errFile, "--token", tok)
	if err != nil {
		t.Fatalf("import: %v\n%s\n%s", err, out, info)
	}
	for _, want := range []string{"Completed with errors", "ops@" + tenant + ".example", "8 total, 5 created, 0 updated, 0 unchanged, 3 failed", "Error CSV saved"} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(info, "100%") {
		t.Errorf("no progress shown:\n%s", info)
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
	if err != nil || !strings.Contains(out, "2 total, 1 created, 0 updated, 0 unchanged, 1 failed") || !strings.Contains(out, "ivr/readme.txt,3,NOT_WAV") {
		t.Fatalf("audio import: %v\n%s\n%s", err, out, info)
	}

	// Export what was imported, through the API and the export function
	// (invoked asynchronously on the dev server's Lambda API).
	zipOut := filepath.Join(t.TempDir(), "export.zip")
	out, info, err = cli("export", "work-type", "--prefix", "cli_", "--wait", "-o", zipOut, "--token", tok)
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
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown job: %v", err)
	}
	if _, _, err := cli("jobs", "--token", "not-a-token"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad token: %v", err)
	}
}
