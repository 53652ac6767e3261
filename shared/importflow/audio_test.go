package importflow_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ccbulk/bulkops/shared/dev/audiotest"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
)

func mustZIP(t *testing.T, entries ...audiotest.Entry) []byte {
	t.Helper()
	z, err := audiotest.ZIP(entries...)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// TestAudioImport: a ZIP of prompts goes through the same steps as a CSV:
// good WAVs are stored under the tenant's prefix with their metadata in
// DynamoDB; bad entries come back in the error CSV with the reason; a file
// of an existing name replaces the old one, which stays recoverable as an
// older version; the same ZIP again changes nothing; a hostile ZIP fails
// the job as a whole.
func TestAudioImport(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := context.Background()
	welcome := audiotest.WAV(1, 1, 8000, 16, 8000, 0) // 1 s
	goodbye := audiotest.WAV(7, 1, 8000, 8, 4000, 1)  // 0.5 s µ-law
	broken := audiotest.WAV(1, 1, 8000, 16, 800, 2)
	broken = broken[:len(broken)-10]
	inner := mustZIP(t, audiotest.Entry{Name: "x.wav", Body: welcome})
	first := mustZIP(t,
		audiotest.Entry{Name: "prompts/", Mode: fs.ModeDir | 0o755},
		audiotest.Entry{Name: "prompts/Welcome.wav", Body: welcome},
		audiotest.Entry{Name: "prompts/menus/Goodbye.wav", Body: goodbye, Deflate: true},
		audiotest.Entry{Name: "notes.txt", Body: []byte("not audio")},
		audiotest.Entry{Name: "Broken.wav", Body: broken},
		audiotest.Entry{Name: "old/welcome.wav", Body: goodbye},
		audiotest.Entry{Name: "more.zip", Body: inner},
	)
	job := h.run(h.upload("voice", "audio-file", "prompts.zip", first, nil), nil)
	if job.Status != jobs.StatusCompletedWithErrs || job.Counts != (jobs.Counts{Total: 6, Processed: 6, Created: 2, Failed: 4}) {
		t.Fatalf("first import: %s %+v %q", job.Status, job.Counts, job.Message)
	}
	report := h.csv(job.ErrorKey)
	want := [][]string{
		{"File", "Row", "Error Code", "Error Message"},
		{"notes.txt", "4", "NOT_WAV"},
		{"Broken.wav", "5", "CORRUPT_WAV"},
		{"old/welcome.wav", "6", "DUPLICATE_NAME"},
		{"more.zip", "7", "NESTED_ZIP"},
	}
	if len(report) != len(want) {
		t.Fatalf("error report:\n%v", report)
	}
	for i, w := range want {
		if strings.Join(report[i][:len(w)], ",") != strings.Join(w, ",") {
			t.Errorf("error report row %d: %v, want %v", i, report[i], w)
		}
	}
	objs, err := h.db.Objects("voice").GetObjects(ctx, "audio-file", []string{"welcome", "goodbye"})
	if err != nil || len(objs) != 2 {
		t.Fatalf("audio objects: %v %v", objs, err)
	}
	if f := objs["welcome"].Fields; f["durationMs"] != "1000" || f["sampleRate"] != "8000" || f["format"] != "PCM" || f["storageKey"] != importflow.AudioKey("voice", "Welcome") {
		t.Fatalf("welcome fields: %v", f)
	}
	if f := objs["goodbye"].Fields; f["durationMs"] != "500" || f["format"] != "µ-law" {
		t.Fatalf("goodbye fields: %v", f)
	}
	stored, err := h.files.Get(ctx, importflow.AudioKey("voice", "Welcome"))
	if err != nil || string(stored) != string(welcome) {
		t.Fatalf("stored WAV: %d bytes, %v", len(stored), err)
	}

	// Same ZIP again: nothing changes. A new Welcome replaces the old one.
	again := h.run(h.upload("voice", "audio-file", "prompts.zip", first, nil), nil)
	if again.Counts.Unchanged != 2 || again.Counts.Created != 0 || again.Counts.Updated != 0 {
		t.Fatalf("same ZIP again: %+v", again.Counts)
	}
	newWelcome := audiotest.WAV(1, 1, 16000, 16, 8000, 9)
	replaced := h.run(h.upload("voice", "prompts", "update.zip", mustZIP(t, audiotest.Entry{Name: "WELCOME.wav", Body: newWelcome}), nil), nil)
	if replaced.Status != jobs.StatusCompleted || replaced.Counts.Updated != 1 {
		t.Fatalf("replacement: %s %+v %q", replaced.Status, replaced.Counts, replaced.Message)
	}
	key := importflow.AudioKey("voice", "Welcome")
	vers, err := h.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &h.bucket, Prefix: &key})
	if err != nil || len(vers.Versions) != 2 {
		t.Fatalf("versions of %s: %d, %v; want the old one kept", key, len(vers.Versions), err)
	}
	if objs, err = h.db.Objects("voice").GetObjects(ctx, "audio-file", []string{"welcome"}); err != nil {
		t.Fatal(err)
	}
	if o := objs["welcome"]; o.Fields["sampleRate"] != "16000" || o.Fields["durationMs"] != "500" || o.Version != 2 {
		t.Fatalf("after replacement: v%d %v", o.Version, o.Fields)
	}

	// Hostile archives fail the job as a whole, with the reason.
	for name, z := range map[string][]byte{
		"climb.zip":   mustZIP(t, audiotest.Entry{Name: "../../audio/other/x.wav", Body: welcome}),
		"link.zip":    mustZIP(t, audiotest.Entry{Name: "l.wav", Body: []byte("/etc/passwd"), Mode: fs.ModeSymlink | 0o777}),
		"bomb.zip":    mustZIP(t, audiotest.Entry{Name: "zeros.wav", Body: make([]byte, 4<<20), Deflate: true}),
		"not-zip.zip": welcome,
	} {
		j := h.run(h.upload("voice", "audio-file", name, z, nil), nil)
		if j.Status != jobs.StatusFailed || j.Message == "" {
			t.Errorf("%s: %s %q, want Failed with a reason", name, j.Status, j.Message)
		}
	}
	if _, err := h.files.Get(ctx, "audio/other/x.wav"); err == nil {
		t.Fatal("a hostile entry was written outside the tenant's prefix")
	}
}
