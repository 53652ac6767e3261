package notify

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

var at = time.Date(2026, 12, 1, 2, 0, 5, 0, time.UTC)

func scheduleNotice() Notice {
	return Notice{
		ID: "ev-1", Tenant: "acme", Kind: ScheduleRunFailed, ScheduleID: "01KSCHED", ScheduleTitle: "Nightly queues",
		JobID: "01KJOB", ObjectTypes: []string{"queue", "site"}, Phase: "upload", Reason: "queue: access denied",
		ConsecutiveFailures: 3, Suspended: true, Link: "https://console.example/#/jobs/01KJOB", At: at,
	}
}

// TestMailNamesEveryFact: the subject and the text name the schedule or
// job, the types, the phase, the reason, the consecutive failures, whether
// the schedule was suspended, and the link.
func TestMailNamesEveryFact(t *testing.T) {
	imp := Notice{ID: "ev-2", Tenant: "acme", Kind: ImportFailed, JobID: "01KIMP", FileName: "queues.csv",
		ObjectTypes: []string{"queue"}, Reason: "the file has no header row", Link: "https://console.example/#/jobs/01KIMP", At: at}
	notSuspended := scheduleNotice()
	notSuspended.Suspended, notSuspended.ConsecutiveFailures = false, 1
	cases := []struct {
		name    string
		n       Notice
		subject string
		lines   []string
		absent  []string
	}{
		{"schedule suspended", scheduleNotice(), `[bulkops] Scheduled export "Nightly queues" failed (3 in a row; schedule suspended)`,
			[]string{"Schedule:              Nightly queues (01KSCHED)", "Job:                   01KJOB", "Object types:          queue, site",
				"Phase:                 upload", "Reason:                queue: access denied", "Consecutive failures:  3",
				"Schedule suspended:    yes", "Link:                  https://console.example/#/jobs/01KJOB", "Time:                  2026-12-01T02:00:05Z",
				"Tenant:                acme"}, nil},
		{"schedule not suspended", notSuspended, `[bulkops] Scheduled export "Nightly queues" failed`,
			[]string{"Consecutive failures:  1", "Schedule suspended:    no"}, []string{"in a row"}},
		{"import", imp, "[bulkops] Import of queues.csv failed",
			[]string{"File:                  queues.csv", "Job:                   01KIMP", "Object types:          queue", "Phase:                 (not reported)",
				"Reason:                the file has no header row", "Link:                  https://console.example/#/jobs/01KIMP"},
			[]string{"Consecutive failures", "Schedule"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.n.Subject(); got != c.subject {
				t.Errorf("subject %q, want %q", got, c.subject)
			}
			text := c.n.Text()
			for _, l := range c.lines {
				if !strings.Contains(text, l+"\n") && !strings.Contains(text, l) {
					t.Errorf("text lacks %q:\n%s", l, text)
				}
			}
			for _, a := range c.absent {
				if strings.Contains(text, a) || strings.Contains(c.n.Subject(), a) {
					t.Errorf("mail has %q:\n%s", a, text)
				}
			}
		})
	}
}

// TestRenderingFoldsControlCharacters: no value adds a header line or a
// line to the body, and a long reason is cut.
func TestRenderingFoldsControlCharacters(t *testing.T) {
	n := scheduleNotice()
	n.ScheduleTitle = "Nightly\r\nBcc: x@evil.example"
	n.Reason = "line one\nline two\x00" + strings.Repeat("x", 3000)
	if s := n.Subject(); strings.ContainsAny(s, "\r\n") {
		t.Fatalf("subject %q has a line break", s)
	}
	text := n.Text()
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "Bcc:") || strings.HasPrefix(l, "line two") {
			t.Fatalf("a value started a line: %q", l)
		}
		if strings.HasPrefix(l, "Reason:") && len([]rune(l)) > 2100 {
			t.Fatalf("reason not cut: %d runes", len([]rune(l)))
		}
	}
	if !strings.Contains(text, "line one line two") {
		t.Fatalf("reason not folded:\n%.300s", text)
	}
}

func TestPayload(t *testing.T) {
	cases := []struct {
		name string
		n    Notice
		want map[string]any
	}{
		{"schedule", scheduleNotice(), map[string]any{
			"version": "1", "id": "ev-1", "type": "schedule-run-failed", "tenant": "acme", "time": "2026-12-01T02:00:05Z",
			"schedule": map[string]any{"id": "01KSCHED", "title": "Nightly queues"}, "job": map[string]any{"id": "01KJOB"},
			"objectTypes": []any{"queue", "site"}, "phase": "upload", "reason": "queue: access denied",
			"consecutiveFailures": float64(3), "suspended": true, "link": "https://console.example/#/jobs/01KJOB",
		}},
		{"import", Notice{ID: "ev-2", Tenant: "acme", Kind: ImportFailed, JobID: "01KIMP", FileName: "q.csv", Reason: "bad"}, map[string]any{
			"version": "1", "id": "ev-2", "type": "import-failed", "tenant": "acme",
			"job": map[string]any{"id": "01KIMP", "fileName": "q.csv"}, "objectTypes": []any{}, "reason": "bad",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.n.Payload()
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("payload\n%v\nwant\n%v", got, c.want)
			}
		})
	}
}
