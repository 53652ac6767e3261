package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPreviewAndApplyEndToEnd runs a change preview on the dev server: a
// dry run with --wait prints the change summary and saves the change CSV
// (exact content); bulkops changes prints it; bulkops apply --wait imports
// the same file for real with the previewed counts; applying again, or
// applying a preview whose object someone changed since, is refused naming
// the object.
func TestPreviewAndApplyEndToEnd(t *testing.T) {
	r := newE2E(t, "preview-")
	tok := r.token(t, "ops@"+r.tenant+".example")
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jobID := regexp.MustCompile(`as job ([0-9A-Z]{26})`)
	if out, info, err := r.cli("import", file("seed.csv", "Name,Description,Type\nLunch,Break,IDLE_CODE\nSale,,WRAP_UP_CODE\n"), "--type", "work-type", "--wait", "--errors-out", filepath.Join(dir, "e0.csv"), "--token", tok); err != nil {
		t.Fatalf("seed: %v\n%s\n%s", err, out, info)
	}
	changes := filepath.Join(dir, "changes.csv")
	w := file("w.csv", "Name,Description,Type\nLunch,Long break,IDLE_CODE\nSale,,WRAP_UP_CODE\nNap,+1 555,IDLE_CODE\nBad,,NOPE\n")
	out, info, err := r.cli("import", w, "--type", "work-type", "--dry-run", "--wait", "--changes-out", changes, "--errors-out", filepath.Join(dir, "e1.csv"), "--token", tok)
	if exitCode(err) != exitCompletedWithErrors {
		t.Fatalf("dry run: exit %d %v\n%s\n%s", exitCode(err), err, out, info)
	}
	m := jobID.FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("no job ID in %q", info)
	}
	dry := m[1]
	for _, want := range []string{"Preview: 1 rows would be created, 1 updated, 1 are unchanged, 1 rejected; 4 field changes in 2 rows.",
		"saved to " + changes, "bulkops apply " + dry + " --wait"} {
		if !strings.Contains(info, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, info)
		}
	}
	if !regexp.MustCompile(`Changes +bulkops changes ` + dry).MatchString(out) {
		t.Errorf("the dry run's job does not point at its changes:\n%s", out)
	}
	wantCSV := "Row,Key,Action,Field,Before,After\n2,Lunch,updated,Description,Break,Long break\n" +
		"4,Nap,created,Name,,Nap\n4,Nap,created,Description,,'+1 555\n4,Nap,created,Type,,IDLE_CODE\n"
	if b, err := os.ReadFile(changes); err != nil || string(b) != "\uFEFF"+wantCSV {
		t.Fatalf("change CSV %v\n got: %q\nwant: %q", err, b, "\uFEFF"+wantCSV)
	}
	if out, _, err := r.cli("changes", dry, "--token", tok); err != nil || out != wantCSV {
		t.Fatalf("bulkops changes: %v %q", err, out)
	}

	out, info, err = r.cli("apply", dry, "--wait", "--errors-out", filepath.Join(dir, "apply-errors.csv"), "--token", tok)
	if exitCode(err) != exitCompletedWithErrors || !strings.Contains(out, "4 total, 1 created, 1 updated, 1 unchanged, 1 failed") ||
		!strings.Contains(info, "applying dry run "+dry+" as job ") || strings.Contains(out, "dry run)") {
		t.Fatalf("apply: exit %d %v\n%s\n%s", exitCode(err), err, out, info)
	}
	if _, _, err := r.cli("apply", dry, "--token", tok); exitCode(err) != exitGeneric || !strings.Contains(err.Error(), "412") ||
		!strings.Contains(err.Error(), `"Nap" (row 4) was created since`) {
		t.Fatalf("second apply: exit %d %v", exitCode(err), err)
	}

	// Someone changes Sale between the preview and the apply.
	out, info, err = r.cli("import", file("w2.csv", "Name,Description,Type\nSale,Sold out,\n"), "--type", "work-type", "--dry-run", "--wait", "--errors-out", filepath.Join(dir, "e2.csv"), "--changes-out", filepath.Join(dir, "c2.csv"), "--token", tok)
	if err != nil {
		t.Fatalf("second dry run: %v\n%s\n%s", err, out, info)
	}
	dry2 := jobID.FindStringSubmatch(info)[1]
	if out, info, err := r.cli("import", file("other.csv", "Name,Description,Type\nSale,Gone,\n"), "--type", "work-type", "--wait", "--errors-out", filepath.Join(dir, "e3.csv"), "--token", tok); err != nil {
		t.Fatalf("other import: %v\n%s\n%s", err, out, info)
	}
	if _, _, err := r.cli("apply", dry2, "--token", tok); exitCode(err) != exitGeneric || !strings.Contains(err.Error(), `"Sale" (row 2) was changed since`) {
		t.Fatalf("apply of a stale preview: exit %d %v", exitCode(err), err)
	}
	if _, _, err := r.cli("changes", "01JZZZZZZZZZZZZZZZZZZZZZZZ", "--token", tok); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("changes of an unknown job: %v", err)
	}
}
