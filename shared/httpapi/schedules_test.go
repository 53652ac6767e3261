package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/httpapi"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// scheduleOut is a schedule as the API shows it.
type scheduleOut struct {
	ID, Title, Description, Prefix, CreatedBy string
	ObjectTypes                               []string
	When                                      struct {
		Frequency, TimeZone, At, Time string
		Weekday, Day                  int
	}
	Options         exportspec.Options
	MaxFailures     int
	Active          bool
	NextRun         time.Time
	RunningJob      string
	SuspendedReason string
	Version         int64
	WhenText        string
}

// dailyBody is a valid schedule body.
func dailyBody(title string) map[string]any {
	return map[string]any{
		"title": title, "description": "queues and sites for the BI warehouse",
		"objectTypes": []string{"Queue", "site", "queue"}, "prefix": "nightly_",
		"when":    map[string]any{"frequency": "daily", "time": "06:30", "timeZone": "Europe/Berlin"},
		"options": map[string]any{"fields": []string{"Name"}, "header": "keys", "range": map[string]any{"mode": "incremental"}},
	}
}

func (h *apiHarness) createSchedule(tenant string, body map[string]any) scheduleOut {
	h.t.Helper()
	var s scheduleOut
	if status, raw := h.call(tenant, "POST", "/v1/schedules", body, &s); status != 201 {
		h.t.Fatalf("create schedule: %d %s", status, raw)
	}
	return s
}

// TestScheduleLifecycle: create, list, get, edit with optimistic
// concurrency, clone, suspend, resume and delete, and the refusals while a
// run is in progress and for a once schedule already submitted.
func TestScheduleLifecycle(t *testing.T) {
	h := newAPIHarness(t)
	ctx := context.Background()
	before := time.Now()
	s := h.createSchedule("acme", dailyBody("Nightly queues"))
	berlin, _ := time.LoadLocation("Europe/Berlin")
	next := s.NextRun.In(berlin)
	if s.ID == "" || !s.Active || s.Version != 1 || s.CreatedBy != "admin@acme.example" || s.MaxFailures != 1 ||
		strings.Join(s.ObjectTypes, ",") != "queue,site" || s.WhenText != "daily at 06:30 Europe/Berlin" ||
		next.Hour() != 6 || next.Minute() != 30 || !s.NextRun.After(before) || s.NextRun.After(before.Add(25*time.Hour)) {
		t.Fatalf("created %+v", s)
	}

	var list struct{ Schedules []scheduleOut }
	if status, raw := h.call("acme", "GET", "/v1/schedules", nil, &list); status != 200 || len(list.Schedules) != 1 || list.Schedules[0].ID != s.ID {
		t.Fatalf("list: %d %s", status, raw)
	}
	var got scheduleOut
	if status, raw := h.call("acme", "GET", "/v1/schedules/"+s.ID, nil, &got); status != 200 || got.Title != "Nightly queues" || got.Options.Header != "keys" {
		t.Fatalf("get: %d %s", status, raw)
	}

	// Edit: weekly on Mondays at 07:00 UTC, from version 1.
	edit := dailyBody("Weekly queues")
	edit["when"] = map[string]any{"frequency": "weekly", "time": "07:00", "weekday": 1}
	edit["maxFailures"] = 3
	edit["version"] = 1
	var edited scheduleOut
	if status, raw := h.call("acme", "PUT", "/v1/schedules/"+s.ID, edit, &edited); status != 200 {
		t.Fatalf("edit: %d %s", status, raw)
	}
	if edited.Version != 2 || edited.Title != "Weekly queues" || edited.MaxFailures != 3 || edited.NextRun.Weekday() != time.Monday ||
		edited.NextRun.Hour() != 7 || !edited.Active {
		t.Fatalf("edited %+v", edited)
	}
	// The same edit again is made from a stale version.
	status, raw := h.call("acme", "PUT", "/v1/schedules/"+s.ID, edit, nil)
	if p := problem(t, status, raw, 409, "CONFLICT"); !strings.Contains(p.Detail, "reload") {
		t.Fatalf("stale edit: %s", p.Detail)
	}
	delete(edit, "version")
	status, raw = h.call("acme", "PUT", "/v1/schedules/"+s.ID, edit, nil)
	if p := problem(t, status, raw, 400, "INVALID_REQUEST"); !strings.Contains(p.Detail, "version") {
		t.Fatalf("edit without version: %s", p.Detail)
	}

	// Clone: a new active schedule, "Copy of …", its own next run.
	var clone scheduleOut
	if status, raw := h.call("acme", "POST", "/v1/schedules/"+s.ID+"/clone", nil, &clone); status != 201 {
		t.Fatalf("clone: %d %s", status, raw)
	}
	if clone.ID == s.ID || clone.Title != "Copy of Weekly queues" || !clone.Active || clone.Version != 1 || clone.MaxFailures != 3 ||
		!clone.NextRun.Equal(edited.NextRun) || clone.Options.Range.Mode != exportspec.RangeIncremental {
		t.Fatalf("clone %+v of %+v", clone, edited)
	}
	var named scheduleOut
	if status, raw := h.call("acme", "POST", "/v1/schedules/"+s.ID+"/clone", map[string]any{"title": "Other"}, &named); status != 201 || named.Title != "Other" {
		t.Fatalf("clone with a title: %d %s", status, raw)
	}
	status, raw = h.call("acme", "POST", "/v1/schedules/"+s.ID+"/clone", map[string]any{"title": strings.Repeat("x", 101)}, nil)
	if p := problem(t, status, raw, 400, "INVALID_REQUEST"); !strings.Contains(p.Detail, "title") {
		t.Fatalf("clone with a long title: %s", p.Detail)
	}

	// Suspend and resume.
	var sus scheduleOut
	if status, raw := h.call("acme", "POST", "/v1/schedules/"+s.ID+"/suspend", nil, &sus); status != 200 || sus.Active || !sus.NextRun.IsZero() || sus.SuspendedReason == "" {
		t.Fatalf("suspend: %d %s", status, raw)
	}
	// Editing a suspended schedule keeps it suspended, without a next run.
	edit["version"] = sus.Version
	if status, raw := h.call("acme", "PUT", "/v1/schedules/"+s.ID, edit, &sus); status != 200 || sus.Active || !sus.NextRun.IsZero() {
		t.Fatalf("edit while suspended: %d %s", status, raw)
	}
	var res scheduleOut
	if status, raw := h.call("acme", "POST", "/v1/schedules/"+s.ID+"/resume", nil, &res); status != 200 || !res.Active || !res.NextRun.Equal(edited.NextRun) || res.SuspendedReason != "" {
		t.Fatalf("resume: %d %s", status, raw)
	}

	// While a run is in progress the schedule is neither edited nor deleted.
	const job = "01JRUNRUNRUNRUNRUNRUNRUNRU"
	if ok, err := h.db.ClaimRun(ctx, "acme", s.ID, res.NextRun, res.NextRun.Add(7*24*time.Hour), true, job); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	status, raw = h.call("acme", "DELETE", "/v1/schedules/"+s.ID, nil, nil)
	if p := problem(t, status, raw, 409, "CONFLICT"); !strings.Contains(p.Detail, "running") {
		t.Fatalf("delete while running: %s", p.Detail)
	}
	edit["version"] = res.Version
	status, raw = h.call("acme", "PUT", "/v1/schedules/"+s.ID, edit, nil)
	problem(t, status, raw, 409, "CONFLICT")
	if _, err := h.db.FinishRun(ctx, "acme", s.ID, job, true, time.Now(), ""); err != nil {
		t.Fatal(err)
	}
	if status, raw := h.call("acme", "DELETE", "/v1/schedules/"+s.ID, nil, nil); status != 204 {
		t.Fatalf("delete: %d %s", status, raw)
	}
	status, raw = h.call("acme", "GET", "/v1/schedules/"+s.ID, nil, nil)
	problem(t, status, raw, 404, "NOT_FOUND")
	status, raw = h.call("acme", "DELETE", "/v1/schedules/"+s.ID, nil, nil)
	problem(t, status, raw, 404, "NOT_FOUND")
	if h.call("acme", "GET", "/v1/schedules", nil, &list); len(list.Schedules) != 2 {
		t.Fatalf("after delete: %+v", list.Schedules)
	}
}

// TestOnceSchedules: "once now" runs at the next tick; a once time in the
// past is refused; a once schedule whose time passed cannot be resumed,
// and one already submitted can be neither edited nor resumed.
func TestOnceSchedules(t *testing.T) {
	h := newAPIHarness(t)
	ctx := context.Background()
	body := dailyBody("Once now")
	body["when"] = map[string]any{"frequency": "once"}
	delete(body, "options")
	before := time.Now()
	now := h.createSchedule("acme", body)
	if !now.Active || now.NextRun.Before(before.Add(-time.Second)) || now.NextRun.After(time.Now().Add(time.Second)) || now.WhenText != "once, now" {
		t.Fatalf("once now: %+v", now)
	}
	due, err := h.db.DueSchedules(ctx, time.Now().Add(time.Second), 100)
	if err != nil || len(due) != 1 || due[0].ID != now.ID {
		t.Fatalf("once now is not due at the next tick: %v %+v", err, due)
	}

	at := time.Now().UTC().Add(2 * time.Hour).Format("2006-01-02T15:04")
	body["when"] = map[string]any{"frequency": "once", "at": at}
	later := h.createSchedule("acme", body)
	if want, _ := time.Parse("2006-01-02T15:04", at); !later.NextRun.Equal(want) {
		t.Fatalf("once at %s runs %v", at, later.NextRun)
	}
	body["when"] = map[string]any{"frequency": "once", "at": time.Now().Add(-time.Hour).Format("2006-01-02T15:04")}
	status, raw := h.call("acme", "POST", "/v1/schedules", body, nil)
	if p := problem(t, status, raw, 400, "INVALID_REQUEST"); !strings.Contains(p.Detail, "when.at") || !strings.Contains(p.Detail, "passed") {
		t.Fatalf("once in the past: %s", p.Detail)
	}

	// Three hours on, the suspended once schedule's time has passed.
	if status, raw := h.call("acme", "POST", "/v1/schedules/"+later.ID+"/suspend", nil, nil); status != 200 {
		t.Fatalf("suspend: %d %s", status, raw)
	}
	h.api.Now = func() time.Time { return time.Now().Add(3 * time.Hour) }
	status, raw = h.call("acme", "POST", "/v1/schedules/"+later.ID+"/resume", nil, nil)
	if p := problem(t, status, raw, 409, "CONFLICT"); !strings.Contains(p.Detail, "passed") {
		t.Fatalf("resume after the time: %s", p.Detail)
	}
	// Its clone is created suspended, to be given a new time.
	var clone scheduleOut
	if status, raw := h.call("acme", "POST", "/v1/schedules/"+later.ID+"/clone", nil, &clone); status != 201 || clone.Active || !clone.NextRun.IsZero() || clone.SuspendedReason == "" {
		t.Fatalf("clone of a passed once schedule: %d %s", status, raw)
	}
	h.api.Now = time.Now

	// The dispatcher submits the once-now run: no more edits or resumes.
	if ok, err := h.db.ClaimRun(ctx, "acme", now.ID, now.NextRun, time.Time{}, false, "01JONCEONCEONCEONCEONCEONC"); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if _, err := h.db.FinishRun(ctx, "acme", now.ID, "01JONCEONCEONCEONCEONCEONC", true, time.Time{}, ""); err != nil {
		t.Fatal(err)
	}
	edit := dailyBody("Once now, edited")
	edit["when"], edit["version"] = map[string]any{"frequency": "once"}, now.Version
	delete(edit, "options")
	status, raw = h.call("acme", "PUT", "/v1/schedules/"+now.ID, edit, nil)
	if p := problem(t, status, raw, 409, "CONFLICT"); !strings.Contains(p.Detail, "clone") {
		t.Fatalf("edit a submitted once schedule: %s", p.Detail)
	}
	status, raw = h.call("acme", "POST", "/v1/schedules/"+now.ID+"/resume", nil, nil)
	if p := problem(t, status, raw, 409, "CONFLICT"); !strings.Contains(p.Detail, "already ran") {
		t.Fatalf("resume a submitted once schedule: %s", p.Detail)
	}
}

// TestScheduleValidation: every invalid body is a 400 whose detail names
// the field at fault.
func TestScheduleValidation(t *testing.T) {
	h := newAPIHarness(t)
	with := func(k string, v any) map[string]any {
		b := dailyBody("Valid")
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	opts := func(kv ...any) map[string]any {
		o := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			o[kv[i].(string)] = kv[i+1]
		}
		return o
	}
	tests := []struct {
		name string
		body map[string]any
		want string
	}{
		{"no title", with("title", nil), "title is required"},
		{"blank title", with("title", "   "), "title is required"},
		{"long title", with("title", strings.Repeat("é", 101)), "title has 101 characters"},
		{"long description", with("description", strings.Repeat("d", 1001)), "description"},
		{"no types", with("objectTypes", []string{}), "objectTypes is empty"},
		{"unknown type", with("objectTypes", []string{"queue", "widgets"}), "objectTypes[1]"},
		{"bad prefix", with("prefix", "bad prefix!"), "prefix"},
		{"no when", with("when", nil), "when.frequency is required"},
		{"bad frequency", with("when", opts("frequency", "yearly")), "when.frequency \"yearly\""},
		{"bad zone", with("when", opts("frequency", "daily", "time", "06:00", "timeZone", "Mars/Olympus")), "timeZone"},
		{"bad time", with("when", opts("frequency", "daily", "time", "25:00")), "when: time"},
		{"bad weekday", with("when", opts("frequency", "weekly", "time", "06:00", "weekday", 9)), "weekday"},
		{"bad day", with("when", opts("frequency", "monthly", "time", "06:00", "day", 32)), "day 32"},
		{"bad at", with("when", opts("frequency", "once", "at", "tomorrow")), "at \"tomorrow\""},
		{"bad header", with("options", opts("header", "fancy")), "options: header"},
		{"bad split", with("options", opts("splitRows", 6000)), "splitRows"},
		{"unknown field", with("options", opts("fields", []string{"Colour"})), "Colour"},
		{"incremental once", with("when", opts("frequency", "once")), "incremental"},
		{"max failures", with("maxFailures", 11), "maxFailures"},
		{"negative max failures", with("maxFailures", -1), "maxFailures"},
		{"tenant in the body", with("tenant", "globex"), "tenant"},
		{"wrong type", with("objectTypes", "queue"), "objectTypes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw := h.call("acme", "POST", "/v1/schedules", tt.body, nil)
			if p := problem(t, status, raw, 400, "INVALID_REQUEST"); !strings.Contains(p.Detail, tt.want) {
				t.Fatalf("detail %q does not contain %q", p.Detail, tt.want)
			}
		})
	}
	var list struct{ Schedules []scheduleOut }
	if h.call("acme", "GET", "/v1/schedules", nil, &list); len(list.Schedules) != 0 {
		t.Fatalf("invalid bodies created %+v", list.Schedules)
	}
	s := h.createSchedule("acme", dailyBody("Valid"))
	edit := dailyBody("")
	edit["version"] = s.Version
	status, raw := h.call("acme", "PUT", "/v1/schedules/"+s.ID, edit, nil)
	if p := problem(t, status, raw, 400, "INVALID_REQUEST"); !strings.Contains(p.Detail, "title") {
		t.Fatalf("edit without a title: %s", p.Detail)
	}
	status, raw = h.call("acme", "GET", "/v1/schedules/"+s.ID+"/runs?limit=0", nil, nil)
	problem(t, status, raw, 400, "INVALID_REQUEST")
}

// TestSchedulesOfAnotherTenant: another tenant's schedule is not found
// through any route, and its ID changes nothing.
func TestSchedulesOfAnotherTenant(t *testing.T) {
	h := newAPIHarness(t)
	h.api.Exports = &recordExports{}
	s := h.createSchedule("acme", dailyBody("Acme only"))
	edit := dailyBody("Hijacked")
	edit["version"] = s.Version
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/schedules/" + s.ID, nil},
		{"PUT", "/v1/schedules/" + s.ID, edit},
		{"DELETE", "/v1/schedules/" + s.ID, nil},
		{"POST", "/v1/schedules/" + s.ID + "/clone", nil},
		{"POST", "/v1/schedules/" + s.ID + "/suspend", nil},
		{"POST", "/v1/schedules/" + s.ID + "/resume", nil},
		{"POST", "/v1/schedules/" + s.ID + "/test", nil},
		{"GET", "/v1/schedules/" + s.ID + "/runs", nil},
		{"GET", "/v1/schedules/not-an-id", nil},
	} {
		status, raw := h.call("globex", tc.method, tc.path, tc.body, nil)
		problem(t, status, raw, 404, "NOT_FOUND")
	}
	var list struct{ Schedules []scheduleOut }
	if h.call("globex", "GET", "/v1/schedules", nil, &list); len(list.Schedules) != 0 {
		t.Fatalf("globex lists %+v", list.Schedules)
	}
	var still scheduleOut
	if h.call("acme", "GET", "/v1/schedules/"+s.ID, nil, &still); still.Title != "Acme only" || !still.Active || still.Version != 1 {
		t.Fatalf("acme's schedule changed: %+v", still)
	}
	if got := h.api.Exports.(*recordExports).got; len(got) != 0 {
		t.Fatalf("globex started %+v", got)
	}
	if lock, err := h.db.PeekLock(context.Background(), "globex"); err != nil || lock.Holder != "" {
		t.Fatalf("globex's lock: %+v %v", lock, err)
	}
}

// TestScheduleTestExportAndRuns: a test export takes the lock, records the
// job and a test run, starts the export with the schedule's options and
// the test limit; the history joins each run with its job (progress while
// it runs, rows, files and the ZIP's link once Completed).
func TestScheduleTestExportAndRuns(t *testing.T) {
	h := newAPIHarness(t)
	ctx := context.Background()
	rec := &recordExports{}
	h.api.Exports = rec
	s := h.createSchedule("acme", dailyBody("Nightly"))
	var job struct{ ID, FileName, Status, ObjectType string }
	status, raw := h.call("acme", "POST", "/v1/schedules/"+s.ID+"/test", nil, &job)
	if status != 202 || job.Status != "New" || job.ObjectType != "queue,site" || !strings.HasPrefix(job.FileName, "TEST_nightly_Export_") {
		t.Fatalf("test export: %d %s", status, raw)
	}
	if len(rec.got) != 1 {
		t.Fatalf("started %+v", rec.got)
	}
	req := rec.got[0]
	if req.Tenant != "acme" || req.JobID != job.ID || req.ScheduleID != s.ID || req.Limit != exportspec.TestExportRows ||
		req.Prefix != "nightly_" || req.Options.Header != exportspec.HeaderKeys || !req.Window.All() || strings.Join(req.ObjectTypes, ",") != "queue,site" {
		t.Fatalf("export request %+v", req)
	}
	stored, err := h.db.GetJob(ctx, "acme", job.ID)
	if err != nil || stored.Type != jobs.TypeExport || stored.SubmittedBy != "admin@acme.example" {
		t.Fatalf("job record %+v %v", stored, err)
	}
	// The test export holds the tenant's lock.
	status, raw = h.call("acme", "POST", "/v1/schedules/"+s.ID+"/test", nil, nil)
	if p := problem(t, status, raw, 409, "TENANT_BUSY"); p.ActiveJobID != job.ID {
		t.Fatalf("busy names %q", p.ActiveJobID)
	}
	if len(rec.got) != 1 {
		t.Fatalf("a busy test started %+v", rec.got)
	}

	type runOut struct {
		JobID, Status, FileName, Error string
		Test                           bool
		Rows, Files, Percent           int
		ETASeconds                     *int64
		StartedAt, EndedAt             *time.Time
		Links                          *struct{ Results string }
	}
	runs := func() []runOut {
		var out struct{ Runs []runOut }
		if status, raw := h.call("acme", "GET", "/v1/schedules/"+s.ID+"/runs", nil, &out); status != 200 {
			t.Fatalf("runs: %d %s", status, raw)
		}
		return out.Runs
	}
	if r := runs(); len(r) != 1 || r[0].JobID != job.ID || !r[0].Test || r[0].Status != "New" || r[0].Links != nil {
		t.Fatalf("runs after the test: %+v", r)
	}
	// Half way: progress and an ETA.
	if err := h.db.MarkInProgress(ctx, "acme", job.ID, 20, 1, time.Now().Add(-10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := h.db.CommitChunk(ctx, "acme", job.ID, 0, jobs.Counts{Processed: 10}); err != nil {
		t.Fatal(err)
	}
	if r := runs(); r[0].Status != "In Progress" || r[0].Percent != 50 || r[0].ETASeconds == nil || *r[0].ETASeconds < 5 || r[0].Rows != 10 {
		t.Fatalf("run in progress: %+v", r[0])
	}
	// Completed: rows, files and the ZIP's link.
	key := "exports/acme/" + job.ID + "/" + job.FileName
	if err := h.files.Put(ctx, key, "application/zip", []byte("zip of acme"), nil); err != nil {
		t.Fatal(err)
	}
	if err := h.db.SetExportResult(ctx, "acme", job.ID, 10, 2, ""); err != nil {
		t.Fatal(err)
	}
	if err := h.db.Finish(ctx, "acme", job.ID, jobs.StatusCompleted, "", key, time.Now()); err != nil {
		t.Fatal(err)
	}
	r := runs()
	if r[0].Status != "Completed" || r[0].Rows != 10 || r[0].Files != 2 || r[0].Percent != 100 || r[0].EndedAt == nil || r[0].Links == nil {
		t.Fatalf("completed run: %+v", r[0])
	}
	if code, body := get(t, r[0].Links.Results); code != 200 || body != "zip of acme" {
		t.Fatalf("link: %d %q", code, body)
	}

	// A scheduled run and a failed one: newest first, with the error.
	failed := h.addJob("acme", "nightly_Export_x.zip", jobs.StatusNew, jobs.TypeExport)
	if err := h.db.Fail(ctx, "acme", failed.ID, "the objects could not be read", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := h.db.RecordRun(ctx, schedule.Run{Tenant: "acme", ScheduleID: s.ID, JobID: failed.ID, Planned: s.NextRun, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	gone, err := h.ids.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.db.RecordRun(ctx, schedule.Run{Tenant: "acme", ScheduleID: s.ID, JobID: gone, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r = runs()
	if len(r) != 3 || r[0].JobID != gone || r[0].Status != "Unknown" || r[1].JobID != failed.ID || r[1].Status != "Failed" ||
		r[1].Error != "the objects could not be read" || r[1].Test || r[1].Links != nil || r[2].JobID != job.ID {
		t.Fatalf("history: %+v", r)
	}
	var one struct{ Runs []runOut }
	if h.call("acme", "GET", "/v1/schedules/"+s.ID+"/runs?limit=1", nil, &one); len(one.Runs) != 1 {
		t.Fatalf("limit=1: %+v", one.Runs)
	}
	// The schedule's own state is untouched by the test.
	var after scheduleOut
	if h.call("acme", "GET", "/v1/schedules/"+s.ID, nil, &after); !after.NextRun.Equal(s.NextRun) || after.RunningJob != "" || after.Version != s.Version {
		t.Fatalf("schedule after its test: %+v", after)
	}
}

// TestCreateExportOptions: options reach the export; an interval becomes
// its window; what the types lack or only schedules can do is refused.
func TestCreateExportOptions(t *testing.T) {
	h := newAPIHarness(t)
	rec := &recordExports{}
	h.api.Exports = rec
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	body := map[string]any{"objectTypes": []string{"queue"}, "options": map[string]any{
		"fields": []string{"Name"}, "splitRows": 100, "range": map[string]any{"mode": "interval", "from": from},
	}}
	if status, raw := h.call("acme", "POST", "/v1/exports", body, nil); status != 202 {
		t.Fatalf("export with options: %d %s", status, raw)
	}
	if len(rec.got) != 1 || rec.got[0].Options.SplitRows != 100 || !rec.got[0].Window.From.Equal(from) || !rec.got[0].Window.To.IsZero() {
		t.Fatalf("request %+v", rec.got)
	}
	for _, tc := range []struct {
		options map[string]any
		want    string
	}{
		{map[string]any{"fields": []string{"Colour"}}, "Colour"},
		{map[string]any{"range": map[string]any{"mode": "incremental"}}, "incremental"},
		{map[string]any{"multiValue": "stacked"}, "multiValue"},
		{map[string]any{"splitBytes": 10}, "splitBytes"},
	} {
		status, raw := h.call("globex", "POST", "/v1/exports", map[string]any{"objectTypes": []string{"queue"}, "options": tc.options}, nil)
		if p := problem(t, status, raw, 400, "INVALID_REQUEST"); !strings.Contains(p.Detail, tc.want) {
			t.Errorf("%v: detail %q lacks %q", tc.options, p.Detail, tc.want)
		}
	}
	if len(rec.got) != 1 {
		t.Fatalf("invalid options started exports: %+v", rec.got)
	}
	// In an export of several types a field that only some types have is
	// written for those (as the export does), not refused.
	if err := h.api.ExportStore.ReleaseLock(context.Background(), "acme", rec.got[0].JobID); err != nil {
		t.Fatal(err)
	}
	mixed := map[string]any{"objectTypes": []string{"work-type", "site"}, "options": map[string]any{"fields": []string{"Description", "Multimedia Profile"}}}
	if status, raw := h.call("acme", "POST", "/v1/exports", mixed, nil); status != 202 {
		t.Fatalf("fields of only some of the types: %d %s", status, raw)
	}
}

// TestSchedulesPerTenantAreLimited: a tenant at MaxSchedulesPerTenant
// cannot create or clone another (409 with what to do); another tenant
// can.
func TestSchedulesPerTenantAreLimited(t *testing.T) {
	h := newAPIHarness(t)
	ctx := context.Background()
	var first string
	for i := range httpapi.MaxSchedulesPerTenant {
		id, err := h.api.NewID()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = id
		}
		if err := h.db.PutSchedule(ctx, schedule.Schedule{Tenant: "full", ID: id, Definition: schedule.Definition{Title: id, ObjectTypes: []string{"queue"}, Spec: schedule.Spec{Frequency: schedule.Daily, Time: "06:00"}},
			Active: true, NextRun: time.Now().Add(time.Hour), CreatedBy: "t", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	status, raw := h.call("full", "POST", "/v1/schedules", dailyBody("One too many"), nil)
	if p := problem(t, status, raw, 409, "CONFLICT"); !strings.Contains(p.Detail, "at most 100 schedules") {
		t.Fatalf("detail %q", p.Detail)
	}
	status, raw = h.call("full", "POST", "/v1/schedules/"+first+"/clone", map[string]any{}, nil)
	problem(t, status, raw, 409, "CONFLICT")
	h.createSchedule("roomy", dailyBody("Fine"))
}
