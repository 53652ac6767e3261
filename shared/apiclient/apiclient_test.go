package apiclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/apiclient"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// answer is one canned answer of the test server.
type answer struct {
	status int
	header map[string]string
	body   string
}

// recorded is one request the test server received.
type recorded struct {
	method, path, query, key, auth, accept, body string
}

// server is an HTTP server on 127.0.0.1 that answers with the given
// answers in turn (the last one again when they run out) and records every
// request.
type server struct {
	*httptest.Server
	mu      sync.Mutex
	answers []answer
	got     []recorded
}

func newServer(t *testing.T, answers ...answer) *server {
	t.Helper()
	s := &server{answers: answers}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got = append(s.got, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Idempotency-Key"),
			r.Header.Get("Authorization"), r.Header.Get("Accept"), string(body)})
		a := s.answers[min(len(s.got), len(s.answers))-1]
		s.mu.Unlock()
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.got...)
}

// client is a client of srv that records its waits instead of sleeping.
func client(srv *server, retries int) (*apiclient.Client, *[]time.Duration) {
	var waits []time.Duration
	return &apiclient.Client{Base: srv.URL + "/dev", Token: "tok", Retries: retries,
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
	}, &waits
}

const problemJSON = "application/problem+json"

// TestProblemDecoding: an error answer becomes a *Problem with the
// document's fields, the Retry-After header and the raw document; an
// answer that is not a problem document becomes one that says the status.
func TestProblemDecoding(t *testing.T) {
	busy := `{"type":"https://bulkops.dev/problems/tenant-busy","title":"Conflict","status":409,"detail":"another bulk operation is in progress (job J1)",` +
		`"code":"TENANT_BUSY","instance":"urn:bulkops:request:r1","activeJobId":"J1"}`
	invalid := `{"type":"t","title":"Bad Request","status":400,"detail":"when: time \"6\" is not a time of day","code":"INVALID_REQUEST",` +
		`"instance":"urn:bulkops:request:r2","errors":[{"pointer":"/when","detail":"when: time \"6\" is not a time of day"}]}`
	tests := []struct {
		name   string
		answer answer
		want   bulkapi.Problem
		retry  time.Duration
		raw    bool
	}{
		{"busy, with Retry-After", answer{409, map[string]string{"Content-Type": problemJSON, "Retry-After": "30"}, busy},
			bulkapi.Problem{Status: 409, Code: "TENANT_BUSY", Title: "Conflict", Detail: "another bulk operation is in progress (job J1)",
				Instance: "urn:bulkops:request:r1", ActiveJobID: "J1", Type: "https://bulkops.dev/problems/tenant-busy"}, 30 * time.Second, true},
		{"invalid, with a field", answer{400, map[string]string{"Content-Type": problemJSON}, invalid},
			bulkapi.Problem{Status: 400, Code: "INVALID_REQUEST", Title: "Bad Request", Detail: `when: time "6" is not a time of day`, Type: "t",
				Instance: "urn:bulkops:request:r2", Errors: []bulkapi.FieldError{{Pointer: "/when", Detail: `when: time "6" is not a time of day`}}}, 0, true},
		{"not a problem document", answer{404, map[string]string{"Content-Type": "text/html"}, "<html>no</html>"},
			bulkapi.Problem{Status: 404, Detail: "GET /v1/jobs/J1 answered 404 Not Found"}, 0, false},
		{"a document without detail", answer{403, map[string]string{"Content-Type": "application/json"}, `{"message":"Forbidden"}`},
			bulkapi.Problem{Status: 403, Detail: "GET /v1/jobs/J1 answered 403 Forbidden"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.answer)
			c, waits := client(srv, 0)
			_, err := c.Job(context.Background(), "J1")
			var p *apiclient.Problem
			if !errors.As(err, &p) {
				t.Fatalf("got %T %v, want a *Problem", err, err)
			}
			if g, w := mustJSON(t, p.Problem), mustJSON(t, tt.want); g != w {
				t.Errorf("problem\n got %s\nwant %s", g, w)
			}
			if p.RetryAfter != tt.retry {
				t.Errorf("RetryAfter %s, want %s", p.RetryAfter, tt.retry)
			}
			if tt.raw != (string(p.Raw) == tt.answer.body) {
				t.Errorf("Raw %q (want the document: %v)", p.Raw, tt.raw)
			}
			if !strings.Contains(p.Error(), tt.want.Detail) || !strings.Contains(p.Error(), fmt.Sprint(tt.want.Status)) {
				t.Errorf("Error() = %q", p.Error())
			}
			if n := len(srv.requests()); n != 1 || len(*waits) != 0 {
				t.Errorf("%d requests, waits %v: a %d is not retried", n, *waits, tt.want.Status)
			}
		})
	}
}

// TestRetries: 502, 503 and 504 are sent again (Retries times; 0 means 2,
// negative never), after the answer's Retry-After (at least 1 s, at most
// 10 s); a POST keeps its Idempotency-Key across its retries and the next
// POST gets a new one.
func TestRetries(t *testing.T) {
	unavailable := func(retryAfter string) answer {
		h := map[string]string{"Content-Type": problemJSON}
		if retryAfter != "" {
			h["Retry-After"] = retryAfter
		}
		return answer{503, h, `{"status":503,"code":"TRY_AGAIN","detail":"try again"}`}
	}
	ok := answer{202, map[string]string{"Content-Type": "application/json"}, `{"id":"J9","type":"export","status":"New","percent":0}`}
	tests := []struct {
		name     string
		retries  int
		answers  []answer
		sent     int
		waits    []time.Duration
		wantCode int // 0: success
	}{
		{"503 twice, then success", 0, []answer{unavailable("3"), unavailable("3"), ok}, 3, []time.Duration{3 * time.Second, 3 * time.Second}, 0},
		{"Retry-After capped at 10 s, none means 1 s", 0, []answer{unavailable("60"), unavailable(""), ok}, 3, []time.Duration{10 * time.Second, time.Second}, 0},
		{"gateway errors", 0, []answer{{502, nil, "bad gateway"}, {504, nil, "timeout"}, ok}, 3, []time.Duration{time.Second, time.Second}, 0},
		{"retries run out", 1, []answer{unavailable("2")}, 2, []time.Duration{2 * time.Second}, 503},
		{"never retried", -1, []answer{unavailable("2"), ok}, 1, nil, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.answers...)
			c, waits := client(srv, tt.retries)
			j, err := c.CreateExport(context.Background(), []string{"queue"}, "", exportspec.Options{})
			var p *apiclient.Problem
			switch {
			case tt.wantCode == 0 && (err != nil || j.ID != "J9"):
				t.Fatalf("got %+v %v, want job J9", j, err)
			case tt.wantCode != 0 && (!errors.As(err, &p) || p.Status != tt.wantCode):
				t.Fatalf("got %v, want a %d problem", err, tt.wantCode)
			}
			got := srv.requests()
			if len(got) != tt.sent || fmt.Sprint(*waits) != fmt.Sprint(tt.waits) {
				t.Fatalf("sent %d, waited %v; want %d, %v", len(got), *waits, tt.sent, tt.waits)
			}
			for _, r := range got {
				if r.key == "" || r.key != got[0].key || r.method != "POST" || r.path != "/dev/v1/exports" || r.body != got[0].body {
					t.Fatalf("the retries are not the same request under one key: %+v", got)
				}
			}
			_, _ = c.CreateExport(context.Background(), []string{"queue"}, "", exportspec.Options{})
			if next := srv.requests()[len(got)]; next.key == "" || next.key == got[0].key {
				t.Errorf("the next POST has key %q, the first %q", next.key, got[0].key)
			}
		})
	}
}

// TestUnreachable: a request that gets no answer is an *UnreachableError
// that says why in words, retried like a 503; a cancelled context is the
// context's error, not retried.
func TestUnreachable(t *testing.T) {
	// A port nothing listens on: take one, then free it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	t.Run("nothing answers", func(t *testing.T) {
		var waits []time.Duration
		c := &apiclient.Client{Base: closed, Token: "t", Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
		_, err := c.Job(context.Background(), "J1")
		var u *apiclient.UnreachableError
		if !errors.As(err, &u) || u.URL != closed || !strings.Contains(err.Error(), "nothing answers there") {
			t.Fatalf("got %T %v", err, err)
		}
		if len(waits) != 2 {
			t.Fatalf("waits %v: want 2 retries", waits)
		}
	})

	t.Run("no answer in time", func(t *testing.T) {
		release := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer slow.Close()
		defer close(release)
		c := &apiclient.Client{Base: slow.URL, Token: "t", Retries: -1, HTTP: &http.Client{Timeout: 50 * time.Millisecond}}
		_, err := c.Job(context.Background(), "J1")
		var u *apiclient.UnreachableError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), "no answer in time") {
			t.Fatalf("got %T %v", err, err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		slept := false
		c := &apiclient.Client{Base: closed, Token: "t", Sleep: func(context.Context, time.Duration) error { slept = true; return nil }}
		_, err := c.Job(ctx, "J1")
		var u *apiclient.UnreachableError
		if !errors.Is(err, context.Canceled) || errors.As(err, &u) || slept {
			t.Fatalf("got %T %v (slept %v), want context.Canceled at once", err, err, slept)
		}
	})

	t.Run("not a URL", func(t *testing.T) {
		c := &apiclient.Client{Base: "http://bad host", Token: "t"}
		if _, err := c.Job(context.Background(), "J1"); err == nil || !strings.Contains(err.Error(), "is not a URL") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestPagination: Schedules follows nextCursor to the last page; the
// page calls pass limit and cursor as query parameters and keep the
// page's raw document.
func TestPagination(t *testing.T) {
	pages := map[string]string{
		"":   `{"schedules":[{"id":"S1","title":"One","objectTypes":["queue"],"when":{"frequency":"daily","time":"06:00"},"active":true,"consecutiveFailures":0,"createdBy":"a","createdAt":"2026-11-01T00:00:00Z","version":1,"whenText":"daily at 06:00 UTC"}],"nextCursor":"S1"}`,
		"S1": `{"schedules":[{"id":"S2","title":"Two","objectTypes":["site"],"when":{"frequency":"once"},"active":false,"consecutiveFailures":2,"createdBy":"a","createdAt":"2026-11-01T00:00:00Z","version":3,"whenText":"once, now"}],"nextCursor":"S2"}`,
		"S2": `{"schedules":[]}`,
	}
	var mu sync.Mutex
	var cursors []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/schedules":
			c := r.URL.Query().Get("cursor")
			cursors = append(cursors, c)
			io.WriteString(w, pages[c])
		case "/v1/schedules/S1/runs":
			q := r.URL.Query()
			fmt.Fprintf(w, `{"runs":[{"jobId":"J1","at":"2026-11-01T06:00:00Z","status":"Completed","rows":7,"files":1,"percent":100,`+
				`"links":{"results":"http://x/zip","expiresAt":"2026-11-01T06:15:00Z"}}],"nextCursor":%q}`, q.Get("limit")+"/"+q.Get("cursor"))
		case "/v1/jobs":
			fmt.Fprintf(w, `{"jobs":[{"id":"J1","type":"import","status":"Completed","percent":100}],"nextCursor":%q}`, r.URL.RawQuery)
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	c := &apiclient.Client{Base: srv.URL, Token: "t"}
	ctx := context.Background()

	all, err := c.Schedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].ID != "S1" || all[1].ID != "S2" || all[1].Failures != 2 || all[1].Version != 3 || all[0].Spec.Time != "06:00" || all[0].WhenText != "daily at 06:00 UTC" {
		t.Fatalf("schedules %+v", all)
	}
	if strings.Join(cursors, ",") != ",S1,S2" {
		t.Fatalf("cursors sent %q", cursors)
	}
	p, err := c.SchedulesPage(ctx, "S1")
	if err != nil || len(p.Schedules) != 1 || p.NextCursor != "S2" || string(p.Raw) != pages["S1"] {
		t.Fatalf("page after S1: %+v %v", p, err)
	}

	runs, err := c.RunsPage(ctx, "S1", 5, "J9")
	if err != nil || len(runs.Runs) != 1 || runs.NextCursor != "5/J9" || runs.Runs[0].JobID != "J1" || runs.Runs[0].Rows != 7 ||
		runs.Runs[0].Links == nil || runs.Runs[0].Links.Results != "http://x/zip" {
		t.Fatalf("runs page: %+v %v", runs, err)
	}
	if first, err := c.RunsPage(ctx, "S1", 0, ""); err != nil || first.NextCursor != "/" {
		t.Fatalf("first runs page without limit or cursor: %+v %v", first, err)
	}

	jobs, next, err := c.Jobs(ctx, url.Values{"status": {"Completed"}, "cursor": {"J0"}})
	if err != nil || len(jobs) != 1 || jobs[0].ID != "J1" || !jobs[0].Final() || next != "cursor=J0&status=Completed" {
		t.Fatalf("jobs: %+v %q %v", jobs, next, err)
	}
}

// TestRequests: every request carries the token and asks for JSON; a
// schedule is created with its definition (no version) and edited with
// its version; an edit without one is refused before anything is sent; a
// 2xx answer that is not the expected JSON is an error.
func TestRequests(t *testing.T) {
	stored := `{"id":"S1","title":"Nightly","objectTypes":["queue"],"when":{"frequency":"daily","time":"06:00"},"maxFailures":2,"active":true,` +
		`"consecutiveFailures":0,"createdBy":"a","createdAt":"2026-11-01T00:00:00Z","version":4,"whenText":"daily at 06:00 UTC"}`
	srv := newServer(t, answer{201, map[string]string{"Content-Type": "application/json"}, stored})
	c, _ := client(srv, 0)
	ctx := context.Background()
	d := schedule.Definition{Title: "Nightly", ObjectTypes: []string{"queue"}, Spec: schedule.Spec{Frequency: schedule.Daily, Time: "06:00"}}
	s, err := c.CreateSchedule(ctx, d)
	if err != nil || s.ID != "S1" || s.MaxFailures != 2 || string(s.Raw) != stored {
		t.Fatalf("create: %+v %v", s, err)
	}
	edit := s.Edit()
	edit.Title = "Renamed"
	if _, err := c.UpdateSchedule(ctx, "S1", edit); err != nil {
		t.Fatal(err)
	}
	edit.Version = nil
	if _, err := c.UpdateSchedule(ctx, "S1", edit); err == nil || !strings.Contains(err.Error(), "needs the version") {
		t.Fatalf("edit without a version: %v", err)
	}
	got := srv.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2: %+v", len(got), got)
	}
	var created, edited map[string]any
	if err := json.Unmarshal([]byte(got[0].body), &created); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(got[1].body), &edited); err != nil {
		t.Fatal(err)
	}
	if got[0].method != "POST" || got[0].path != "/dev/v1/schedules" || created["title"] != "Nightly" || created["version"] != nil || created["options"] != nil {
		t.Errorf("create sent %s %s %s", got[0].method, got[0].path, got[0].body)
	}
	if got[1].method != "PUT" || got[1].path != "/dev/v1/schedules/S1" || got[1].key != "" || edited["title"] != "Renamed" || edited["version"] != 4.0 || edited["maxFailures"] != 2.0 {
		t.Errorf("edit sent %s %s %s (key %q)", got[1].method, got[1].path, got[1].body, got[1].key)
	}
	for _, r := range got {
		if r.auth != "Bearer tok" || !strings.Contains(r.accept, "application/problem+json") {
			t.Errorf("headers: %+v", r)
		}
	}

	bad := newServer(t, answer{200, map[string]string{"Content-Type": "application/json"}, `{"id":`})
	bc, _ := client(bad, 0)
	if _, err := bc.Job(ctx, "J1"); err == nil || !strings.Contains(err.Error(), "not the expected JSON") {
		t.Fatalf("truncated JSON: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
