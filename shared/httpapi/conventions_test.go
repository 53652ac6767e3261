package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/httpapi"
	"github.com/ccbulk/bulkops/shared/idempotency"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// TestIdempotencyKey: a POST retried with its Idempotency-Key gets the
// same answer (the same job, replayed) and does nothing twice; the key
// with another body is refused with 422; a key is the tenant's own; an
// error answer is not kept, so the retry of a refused request runs again.
func TestIdempotencyKey(t *testing.T) {
	h := newAPIHarness(t)
	rec := &recordExports{}
	h.api.Exports = rec
	key := map[string]string{"Idempotency-Key": "export-" + fmt.Sprint(time.Now().UnixNano())}
	body := map[string]any{"objectTypes": []string{"queue"}, "prefix": "idem_"}
	var first, again struct{ ID, FileName string }
	status, hdr, raw := h.send("acme", "POST", "/v1/exports", body, key, &first)
	if status != 202 || first.ID == "" || hdr.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first export: %d %v %s", status, hdr, raw)
	}
	// The same body with other spacing is the same request.
	status, hdr, raw = h.send("acme", "POST", "/v1/exports", []byte(`{ "objectTypes" : ["queue"], "prefix": "idem_" }`), key, &again)
	if status != 202 || again != first || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %v %s; want the first answer %+v again", status, hdr, raw, first)
	}
	if len(rec.got) != 1 {
		t.Fatalf("the retry started another export: %+v", rec.got)
	}
	status, _, raw = h.send("acme", "POST", "/v1/exports", map[string]any{"objectTypes": []string{"site"}}, key, nil)
	if p := problem(t, status, raw, 422, "IDEMPOTENCY_KEY_REUSED"); !strings.Contains(p.Detail, "new key") {
		t.Fatalf("reused key: %s", p.Detail)
	}
	status, _, raw = h.send("acme", "POST", "/v1/schedules", dailyBody("Same key, other path"), key, nil)
	problem(t, status, raw, 422, "IDEMPOTENCY_KEY_REUSED")

	// Another tenant's key space is its own; its first request is busy
	// (acme's export holds acme's lock, so use globex's own lock).
	l, err := h.db.AcquireLock(context.Background(), "globex", "01JBUSYBUSYBUSYBUSYBUSYBUS", time.Minute)
	if err != nil || !l.Acquired {
		t.Fatal(l, err)
	}
	status, hdr, raw = h.send("globex", "POST", "/v1/exports", body, key, nil)
	if problem(t, status, raw, 409, "TENANT_BUSY"); hdr.Get("Retry-After") == "" {
		t.Fatalf("busy without Retry-After: %v", hdr)
	}
	if err := h.db.ReleaseLock(context.Background(), "globex", "01JBUSYBUSYBUSYBUSYBUSYBUS"); err != nil {
		t.Fatal(err)
	}
	var later struct{ ID string }
	if status, _, raw = h.send("globex", "POST", "/v1/exports", body, key, &later); status != 202 || later.ID == "" || later.ID == first.ID {
		t.Fatalf("retry after the tenant was busy: %d %s", status, raw)
	}
	if len(rec.got) != 2 || rec.got[1].Tenant != "globex" {
		t.Fatalf("exports started: %+v", rec.got)
	}
	for _, bad := range []string{strings.Repeat("k", 256), "has space"} {
		status, _, raw = h.send("acme", "POST", "/v1/exports", body, map[string]string{"Idempotency-Key": bad}, nil)
		problem(t, status, raw, 400, "INVALID_REQUEST")
	}

	// Creating a schedule twice with one key makes one schedule.
	skey := map[string]string{"Idempotency-Key": "sched-" + fmt.Sprint(time.Now().UnixNano())}
	var s1, s2 scheduleOut
	h.send("acme", "POST", "/v1/schedules", dailyBody("Once only"), skey, &s1)
	status, hdr, raw = h.send("acme", "POST", "/v1/schedules", dailyBody("Once only"), skey, &s2)
	if status != 201 || s1.ID == "" || s2.ID != s1.ID || hdr.Get("ETag") == "" || hdr.Get("Location") != "/v1/schedules/"+s1.ID {
		t.Fatalf("schedule retry: %d %v %s", status, hdr, raw)
	}
	var list struct{ Schedules []scheduleOut }
	if h.call("acme", "GET", "/v1/schedules", nil, &list); len(list.Schedules) != 1 {
		t.Fatalf("%d schedules after a retried create", len(list.Schedules))
	}
}

// TestIdempotencyStore: the store's claim is one conditional write: a
// second claim sees the first (running, then its answer); an expired claim
// can be taken over; a released key is free again.
func TestIdempotencyStore(t *testing.T) {
	h := newAPIHarness(t)
	ctx := context.Background()
	k := "store-" + fmt.Sprint(time.Now().UnixNano())
	if _, claimed, err := h.db.ClaimIdempotencyKey(ctx, "acme", k, "h1", time.Minute); err != nil || !claimed {
		t.Fatalf("first claim: %v %v", claimed, err)
	}
	rec, claimed, err := h.db.ClaimIdempotencyKey(ctx, "acme", k, "h1", time.Minute)
	if err != nil || claimed || rec.Hash != "h1" || rec.Status != 0 {
		t.Fatalf("second claim while running: %+v %v %v", rec, claimed, err)
	}
	want := idempotency.Response{Hash: "h1", Status: 201, Header: map[string]string{"Content-Type": "application/json"}, Body: []byte(`{"a":1}`)}
	if err := h.db.SaveIdempotentResponse(ctx, "acme", k, want, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := h.db.SaveIdempotentResponse(ctx, "acme", k, want, time.Hour); err == nil {
		t.Fatal("an answer was stored twice")
	}
	rec, claimed, err = h.db.ClaimIdempotencyKey(ctx, "acme", k, "h2", time.Minute)
	if err != nil || claimed || rec.Status != 201 || string(rec.Body) != `{"a":1}` || rec.Header["Content-Type"] != "application/json" || rec.Hash != "h1" {
		t.Fatalf("claim of an answered key: %+v %v %v", rec, claimed, err)
	}
	if err := h.db.ReleaseIdempotencyKey(ctx, "acme", k, "h1"); err != nil {
		t.Fatal(err)
	}
	if _, claimed, err := h.db.ClaimIdempotencyKey(ctx, "acme", k, "h2", time.Minute); err != nil || claimed {
		t.Fatalf("release removed an answered key (claimed %v, %v)", claimed, err)
	}
	// A claim whose lease ran out is free (TTL removes items late).
	k2 := k + "-lease"
	if _, claimed, err := h.db.ClaimIdempotencyKey(ctx, "acme", k2, "h1", -time.Second); err != nil || !claimed {
		t.Fatal(claimed, err)
	}
	if _, claimed, err := h.db.ClaimIdempotencyKey(ctx, "acme", k2, "h2", time.Minute); err != nil || !claimed {
		t.Fatalf("expired claim not taken over: %v %v", claimed, err)
	}
	if err := h.db.ReleaseIdempotencyKey(ctx, "acme", k2, "h2"); err != nil {
		t.Fatal(err)
	}
	if _, claimed, err := h.db.ClaimIdempotencyKey(ctx, "acme", k2, "h3", time.Minute); err != nil || !claimed {
		t.Fatalf("released key not free: %v %v", claimed, err)
	}
}

// TestProblemDocuments: every problem names its occurrence (instance, the
// X-Request-Id); an invalid body names the field at fault with a JSON
// pointer.
func TestProblemDocuments(t *testing.T) {
	h := newAPIHarness(t)
	h.api.Exports = &recordExports{}
	long := strings.Repeat("x", 101)
	tests := []struct {
		path    string
		body    any
		pointer string
	}{
		{"/v1/imports", map[string]any{"objectType": "widgets", "fileName": "a.csv"}, "/objectType"},
		{"/v1/imports", map[string]any{"objectType": "queue", "fileName": "a.xlsx"}, "/fileName"},
		{"/v1/imports", map[string]any{"objectType": "queue", "fileName": "a.csv", "tenant": "other"}, "/tenant"},
		{"/v1/imports", map[string]any{"objectType": "queue", "fileName": 7}, "/fileName"},
		{"/v1/imports", []byte(`{"objectType":`), ""},
		{"/v1/exports", map[string]any{"objectTypes": []string{"queue", "widgets"}}, "/objectTypes/1"},
		{"/v1/exports", map[string]any{"objectTypes": []string{"queue"}, "prefix": "bad prefix!"}, "/prefix"},
		{"/v1/exports", map[string]any{"objectTypes": []string{"queue"}, "options": map[string]any{"splitRows": "many"}}, "/options/splitRows"},
		{"/v1/exports", map[string]any{"objectTypes": []string{"queue"}, "options": map[string]any{"range": map[string]any{"mode": "incremental"}}}, "/options/range/mode"},
		{"/v1/schedules", map[string]any{"title": long, "objectTypes": []string{"queue"}, "when": map[string]any{"frequency": "daily"}}, "/title"},
		{"/v1/schedules", map[string]any{"title": "t", "objectTypes": []string{"queue"}, "when": map[string]any{"frequency": "sometimes"}}, "/when/frequency"},
		{"/v1/schedules", map[string]any{"title": "t", "objectTypes": []string{"queue"}, "when": map[string]any{"frequency": "daily", "time": "06:00"}, "maxFailures": 11}, "/maxFailures"},
	}
	for _, tt := range tests {
		status, hdr, raw := h.send("acme", "POST", tt.path, tt.body, nil, nil)
		p := problem(t, status, raw, 400, "INVALID_REQUEST")
		if p.Instance != "urn:bulkops:request:"+hdr.Get("X-Request-Id") || hdr.Get("X-Request-Id") == "" {
			t.Errorf("%s %v: instance %q, X-Request-Id %q", tt.path, tt.body, p.Instance, hdr.Get("X-Request-Id"))
		}
		if len(p.Errors) != 1 || p.Errors[0].Pointer != tt.pointer || p.Errors[0].Detail == "" {
			t.Errorf("%s %s: errors %+v, want pointer %q", tt.path, raw, p.Errors, tt.pointer)
		}
	}
	status, _, raw := h.send("acme", "GET", "/v1/jobs/01JZZZZZZZZZZZZZZZZZZZZZZZ", nil, nil, nil)
	if p := problem(t, status, raw, 404, "NOT_FOUND"); p.Instance == "" || p.Errors != nil {
		t.Errorf("not found: %+v", p)
	}
}

// TestScheduleETagAndIfMatch: schedules carry their version as ETag; a PUT
// or DELETE with a stale If-Match is refused with 412 and changes nothing;
// If-Match may stand in for the body's version.
func TestScheduleETagAndIfMatch(t *testing.T) {
	h := newAPIHarness(t)
	s := h.createSchedule("acme", dailyBody("Tagged"))
	status, hdr, _ := h.send("acme", "GET", "/v1/schedules/"+s.ID, nil, nil, nil)
	tag := hdr.Get("ETag")
	if status != 200 || tag != fmt.Sprintf("%q", fmt.Sprint(s.Version)) {
		t.Fatalf("GET: %d ETag %q, version %d", status, tag, s.Version)
	}
	edit := dailyBody("Tagged, edited")
	var after scheduleOut
	status, hdr, raw := h.send("acme", "PUT", "/v1/schedules/"+s.ID, edit, map[string]string{"If-Match": tag}, &after)
	if status != 200 || after.Title != "Tagged, edited" || after.Version != s.Version+1 || hdr.Get("ETag") == tag {
		t.Fatalf("PUT with If-Match only: %d %s", status, raw)
	}
	status, _, raw = h.send("acme", "PUT", "/v1/schedules/"+s.ID, dailyBody("Lost update"), map[string]string{"If-Match": tag}, nil)
	problem(t, status, raw, 412, "PRECONDITION_FAILED")
	edit["version"] = s.Version
	status, _, raw = h.send("acme", "PUT", "/v1/schedules/"+s.ID, edit, map[string]string{"If-Match": hdr.Get("ETag")}, nil)
	if p := problem(t, status, raw, 400, "INVALID_REQUEST"); len(p.Errors) != 1 || p.Errors[0].Pointer != "/version" {
		t.Fatalf("version and If-Match disagree: %+v", p)
	}
	status, _, raw = h.send("acme", "DELETE", "/v1/schedules/"+s.ID, nil, map[string]string{"If-Match": tag}, nil)
	problem(t, status, raw, 412, "PRECONDITION_FAILED")
	var still scheduleOut
	if h.call("acme", "GET", "/v1/schedules/"+s.ID, nil, &still); still.Title != "Tagged, edited" {
		t.Fatalf("a refused change changed the schedule: %+v", still)
	}
	if status, _, raw = h.send("acme", "DELETE", "/v1/schedules/"+s.ID, nil, map[string]string{"If-Match": hdr.Get("ETag")}, nil); status != 204 {
		t.Fatalf("DELETE with the current ETag: %d %s", status, raw)
	}
}

// TestEveryListPages: schedules, run history and object types page by
// cursor like jobs; the pages together are the whole list, in order.
func TestEveryListPages(t *testing.T) {
	h := newAPIHarness(t)
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		ids = append(ids, h.createSchedule("acme", dailyBody(fmt.Sprintf("S%d", i))).ID)
	}
	pages := func(path, name string, limit int) ([]string, int) {
		var got []string
		n, cursor := 0, ""
		for {
			var page map[string]any
			if status, raw := h.call("acme", "GET", fmt.Sprintf("%s?limit=%d&cursor=%s", path, limit, cursor), nil, &page); status != 200 {
				t.Fatalf("%s: %d %s", path, status, raw)
			}
			n++
			for _, it := range page[name].([]any) {
				m := it.(map[string]any)
				for _, k := range []string{"id", "jobId", "slug"} {
					if v, ok := m[k].(string); ok {
						got = append(got, v)
					}
				}
			}
			next, _ := page["nextCursor"].(string)
			if next == "" || n > 100 {
				return got, n
			}
			cursor = next
		}
	}
	if got, n := pages("/v1/schedules", "schedules", 2); strings.Join(got, ",") != strings.Join(ids, ",") || n != 3 {
		t.Fatalf("schedule pages: %d pages %v, want %v", n, got, ids)
	}
	// 2,160 hourly runs in 90 days: every one is reachable. 23 here.
	var jobIDs []string
	for range 23 {
		id, err := h.ids.New(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := h.db.RecordRun(ctx, schedule.Run{Tenant: "acme", ScheduleID: ids[0], JobID: id, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
		jobIDs = append([]string{id}, jobIDs...) // newest first
	}
	if got, n := pages("/v1/schedules/"+ids[0]+"/runs", "runs", 10); strings.Join(got, ",") != strings.Join(jobIDs, ",") || n != 3 {
		t.Fatalf("run pages: %d pages, %d runs %v\nwant %v", n, len(got), got, jobIDs)
	}
	all, _ := pages("/v1/object-types", "objectTypes", 100)
	if got, n := pages("/v1/object-types", "objectTypes", 4); strings.Join(got, ",") != strings.Join(all, ",") || n != (len(all)+3)/4 {
		t.Fatalf("object type pages: %d %v, want %v", n, got, all)
	}
	for _, q := range []string{"/v1/schedules?cursor=x", "/v1/schedules/" + ids[0] + "/runs?cursor=../x", "/v1/object-types?cursor=widgets", "/v1/object-types?limit=0"} {
		status, raw := h.call("acme", "GET", q, nil, nil)
		problem(t, status, raw, 400, "INVALID_REQUEST")
	}
}

// TestOpenAPIServers: the served document lists the deployed server URL
// template and is the embedded one.
func TestOpenAPIServers(t *testing.T) {
	h := newAPIHarness(t)
	status, raw := h.call("", "GET", "/v1/openapi.json", nil, nil)
	if status != 200 || string(raw) != string(httpapi.OpenAPI) || !strings.Contains(string(raw), "https://{apiId}.execute-api.{region}.amazonaws.com/{stage}") {
		t.Fatalf("openapi.json: %d %.200s", status, raw)
	}
}
