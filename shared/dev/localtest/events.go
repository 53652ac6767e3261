package localtest

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
)

// BusEvent is one event the dev server's EventBridge received.
type BusEvent struct {
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
}

// Events lists the events of source with detail-type the dev server's
// EventBridge (AWS_ENDPOINT_URL_EVENTBRIDGE, GET /_local/events) received,
// oldest first, each detail decoded into a T. On LocalStack they are the
// events of source bulkops its EventBridge delivered to this process's
// capture rule (capture.go).
func Events[T any](t testing.TB, source, detailType string) []T {
	t.Helper()
	var all []BusEvent
	if Backend() == "localstack" {
		all = capture.events(t)
	} else {
		all = devServerEvents(t)
	}
	var out []T
	for _, e := range all {
		if e.Source != source || e.DetailType != detailType {
			continue
		}
		var d T
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatalf("%s event detail %s: %v", detailType, e.Detail, err)
		}
		out = append(out, d)
	}
	return out
}

// devServerEvents is the dev server's list of the events it received.
func devServerEvents(t testing.TB) []BusEvent {
	t.Helper()
	base := strings.TrimSuffix(os.Getenv("AWS_ENDPOINT_URL_EVENTBRIDGE"), "/")
	if base == "" {
		t.Fatal("AWS_ENDPOINT_URL_EVENTBRIDGE is not set; source infra/local/env.sh")
	}
	resp, err := http.Get(base + "/_local/events")
	if err != nil {
		t.Fatalf("the dev server's event list: %v", err)
	}
	defer resp.Body.Close()
	var all []BusEvent
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatalf("the dev server's event list: %v", err)
	}
	return all
}

// JobStatuses lists the statuses of the job events ("Bulk Job Status
// Changed", source bulkops) published for one job of tenant, oldest first.
func JobStatuses(t testing.TB, tenant, job string) []string {
	t.Helper()
	type detail struct {
		Tenant string `json:"tenant"`
		JobID  string `json:"jobId"`
		Status string `json:"status"`
	}
	var out []string
	for _, d := range Events[detail](t, "bulkops", "Bulk Job Status Changed") {
		if d.Tenant == tenant && d.JobID == job {
			out = append(out, d.Status)
		}
	}
	return out
}
