package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/exportzip"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// scheduleStore keeps a tenant's scheduled exports and their run history
// (dynamostore.Store).
type scheduleStore interface {
	PutSchedule(ctx context.Context, s dynamostore.Schedule) error
	GetSchedule(ctx context.Context, tenant, id string) (dynamostore.Schedule, error)
	ListSchedules(ctx context.Context, tenant string) ([]dynamostore.Schedule, error)
	UpdateSchedule(ctx context.Context, s dynamostore.Schedule) error
	DeleteSchedule(ctx context.Context, tenant, id string) error
	SetScheduleActive(ctx context.Context, tenant, id string, version int64, active bool, next time.Time, reason string) (dynamostore.Schedule, error)
	RecordRun(ctx context.Context, r dynamostore.ScheduleRun) error
	PageRuns(ctx context.Context, tenant, scheduleID, after string, limit int32) ([]dynamostore.ScheduleRun, string, error)
}

// Limits of a schedule's definition.
const (
	maxTitle       = 100
	maxDescription = 1000
	maxFailuresCap = 10
	// testPrefix starts the ZIP name of a test export.
	testPrefix = "TEST_"
)

// scheduleBody is the definition a client sends to create a schedule (and,
// with a version, to edit one).
type scheduleBody struct {
	Title       string             `json:"title"`
	Description string             `json:"description"`
	ObjectTypes []string           `json:"objectTypes"`
	Prefix      string             `json:"prefix"`
	When        schedule.Spec      `json:"when"`
	Options     exportspec.Options `json:"options"`
	// MaxFailures is how many failed runs in a row suspend the schedule,
	// 0 to 10 (0 counts as 1); absent means 1.
	MaxFailures *int `json:"maxFailures"`
}

// scheduleEdit is the body of PUT /v1/schedules/{id}: the whole definition
// and the version it was read at.
type scheduleEdit struct {
	scheduleBody
	Version *int64 `json:"version"`
}

// scheduleView is a schedule as the API shows it.
type scheduleView struct {
	dynamostore.Schedule
	// WhenText is the schedule in words ("daily at 06:00 Europe/Berlin").
	WhenText string `json:"whenText"`
}

func viewSchedule(s dynamostore.Schedule) scheduleView {
	return scheduleView{Schedule: s, WhenText: s.Spec.Describe()}
}

// definition checks b and turns it into a schedule's definition (title,
// description, types as slugs, prefix, when, options, maxFailures). Every
// error is Invalid and names the field and how to fix it.
func definition(b scheduleBody) (dynamostore.Schedule, error) {
	bad := func(ptr, format string, args ...any) (dynamostore.Schedule, error) {
		return dynamostore.Schedule{}, invalidAt(ptr, format, args...)
	}
	title := strings.TrimSpace(b.Title)
	switch {
	case title == "":
		return bad("/title", "title is required; give the schedule a name such as \"Nightly queues\"")
	case utf8.RuneCountInString(title) > maxTitle:
		return bad("/title", "title has %d characters; shorten it to at most %d", utf8.RuneCountInString(title), maxTitle)
	case utf8.RuneCountInString(b.Description) > maxDescription:
		return bad("/description", "description has %d characters; shorten it to at most %d", utf8.RuneCountInString(b.Description), maxDescription)
	}
	types, slugs, err := resolveTypes(b.ObjectTypes)
	if err != nil {
		return dynamostore.Schedule{}, err
	}
	if err := exportzip.ValidatePrefix(b.Prefix); err != nil {
		return dynamostore.Schedule{}, atField("/prefix", bulkerr.Wrap(bulkerr.Invalid, err, "prefix: %s", bulkerr.Message(err)))
	}
	switch b.When.Frequency {
	case schedule.Once, schedule.Hourly, schedule.Daily, schedule.Weekly, schedule.Monthly:
	case "":
		return bad("/when/frequency", "when.frequency is required: once, hourly, daily, weekly or monthly")
	default:
		return bad("/when/frequency", "when.frequency %q is not one of once, hourly, daily, weekly, monthly", b.When.Frequency)
	}
	if err := b.When.Validate(); err != nil {
		return dynamostore.Schedule{}, atField("/when", bulkerr.Wrap(bulkerr.Invalid, err, "when: %s", bulkerr.Message(err)))
	}
	if err := checkOptions(b.Options, types); err != nil {
		return dynamostore.Schedule{}, err
	}
	if b.Options.Range.Mode == exportspec.RangeIncremental && b.When.Frequency == schedule.Once {
		return bad("/options/range/mode", "options.range.mode incremental exports what changed since the last successful run, which a once schedule never has; use all or interval, or a recurring frequency")
	}
	maxFailures := 1
	if b.MaxFailures != nil {
		if *b.MaxFailures < 0 || *b.MaxFailures > maxFailuresCap {
			return bad("/maxFailures", "maxFailures %d is not from 0 to %d (failed runs in a row before the schedule suspends itself)", *b.MaxFailures, maxFailuresCap)
		}
		maxFailures = max(*b.MaxFailures, 1)
	}
	return dynamostore.Schedule{
		Title: title, Description: b.Description, ObjectTypes: slugs, Prefix: b.Prefix,
		Spec: tidy(b.When), Options: b.Options, MaxFailures: maxFailures,
	}, nil
}

// tidy drops the parts of a valid spec its frequency does not use (an at
// left over from a once schedule made daily, say), so a stored schedule
// shows only what applies.
func tidy(w schedule.Spec) schedule.Spec {
	if w.Frequency != schedule.Once {
		w.At = ""
	} else {
		w.Time = ""
	}
	if w.Frequency != schedule.Weekly {
		w.Weekday = 0
	}
	if w.Frequency != schedule.Monthly {
		w.Day = 0
	}
	return w
}

// nextRun is the first run of spec after now; a once schedule without a
// time runs now (the dispatcher's next tick), one whose time has passed is
// refused.
func nextRun(spec schedule.Spec, now time.Time) (time.Time, error) {
	next, ok, err := spec.Next(now)
	if err != nil {
		return time.Time{}, atField("/when", bulkerr.Wrap(bulkerr.Invalid, err, "when: %s", bulkerr.Message(err)))
	}
	if !ok {
		return time.Time{}, invalidAt("/when/at", "when.at %s (%s) has passed; give a future date and time, or leave at out to run once now", spec.At, zoneName(spec))
	}
	return next.UTC(), nil
}

func zoneName(spec schedule.Spec) string {
	if spec.TimeZone == "" {
		return "UTC"
	}
	return spec.TimeZone
}

// scheduleID is the {id} of a schedule route; anything but a ULID is not
// found without asking the store.
func scheduleID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !jobIDPattern.MatchString(id) {
		return "", bulkerr.New(bulkerr.NotFound, "schedule %q not found", id)
	}
	return id, nil
}

func (a *API) schedules() (scheduleStore, error) {
	if a.Schedules == nil {
		return nil, bulkerr.New(bulkerr.Internal, "schedules are not configured")
	}
	return a.Schedules, nil
}

// MaxSchedulesPerTenant is how many schedules one tenant may have; it also
// keeps one tenant's due runs from crowding out others' in the dispatcher.
const MaxSchedulesPerTenant = 100

// scheduleTarget is the store and the schedule ID of a /v1/schedules/{id}
// request.
func (a *API) scheduleTarget(r *http.Request) (scheduleStore, string, error) {
	st, err := a.schedules()
	if err != nil {
		return nil, "", err
	}
	sid, err := scheduleID(r)
	return st, sid, err
}

// listSchedules lists the tenant's schedules, oldest first, a page at a
// time (limit 1 to 100, default 100: every schedule a tenant may have).
func (a *API) listSchedules(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, err := a.schedules()
	if err != nil {
		return err
	}
	limit, after, err := pageParams(r, MaxSchedulesPerTenant)
	if err != nil {
		return err
	}
	list, err := st.ListSchedules(r.Context(), id.Tenant)
	if err != nil {
		return err
	}
	out := make([]scheduleView, 0, min(len(list), limit))
	next := ""
	for _, s := range list {
		if after != "" && s.ID <= after {
			continue
		}
		if len(out) == limit {
			next = out[len(out)-1].ID
			break
		}
		out = append(out, viewSchedule(s))
	}
	writePage(w, "schedules", out, next)
	return nil
}

// pageParams reads the limit (1 to 100, default def) and the cursor (the
// ID of the last item of the previous page) of a list request.
func pageParams(r *http.Request, def int) (int, string, error) {
	q := r.URL.Query()
	limit := def
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			return 0, "", bulkerr.New(bulkerr.Invalid, "limit %q must be a whole number from 1 to 100", l)
		}
		limit = n
	}
	after := q.Get("cursor")
	if after != "" && !jobIDPattern.MatchString(after) {
		return 0, "", bulkerr.New(bulkerr.Invalid, "cursor %q is not one this API issued; pass nextCursor from the previous page", after)
	}
	return limit, after, nil
}

// writePage answers a list: the items under name and, when more follow,
// nextCursor.
func writePage(w http.ResponseWriter, name string, items any, next string) {
	body := map[string]any{name: items}
	if next != "" {
		body["nextCursor"] = next
	}
	writeJSON(w, http.StatusOK, body)
}

// etag is a schedule's entity tag: its version.
func etag(s dynamostore.Schedule) string { return fmt.Sprintf("%q", strconv.FormatInt(s.Version, 10)) }

// writeSchedule answers with a schedule and its ETag.
func writeSchedule(w http.ResponseWriter, status int, s dynamostore.Schedule) {
	w.Header().Set("ETag", etag(s))
	writeJSON(w, status, viewSchedule(s))
}

// ifMatch checks a request's If-Match header against the schedule's
// current version: nil when there is none (or "*"), a Stale error (412)
// when it names another version. It returns the version it named (-1 for
// none).
func ifMatch(r *http.Request, cur dynamostore.Schedule) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return -1, nil
	}
	for _, tag := range strings.Split(h, ",") {
		if strings.TrimSpace(tag) == etag(cur) {
			return cur.Version, nil
		}
	}
	return 0, bulkerr.New(bulkerr.Stale, "schedule %s is at version %d (ETag %s), not the one If-Match names (%s): someone changed it; read it again and redo your change", cur.ID, cur.Version, etag(cur), h)
}

// getSchedule shows one schedule; another tenant's is not found.
func (a *API) getSchedule(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, sid, err := a.scheduleTarget(r)
	if err != nil {
		return err
	}
	s, err := st.GetSchedule(r.Context(), id.Tenant, sid)
	if err != nil {
		return err
	}
	writeSchedule(w, http.StatusOK, s)
	return nil
}

// create stores s (a definition) as a new active schedule of the caller
// with a new ID and its next run, and answers 201 with what was stored.
func (a *API) create(w http.ResponseWriter, r *http.Request, id authn.Identity, s dynamostore.Schedule, next time.Time) error {
	st, err := a.schedules()
	if err != nil {
		return err
	}
	have, err := st.ListSchedules(r.Context(), id.Tenant)
	if err != nil {
		return err
	}
	if len(have) >= MaxSchedulesPerTenant {
		return bulkerr.New(bulkerr.Conflict, "a tenant may have at most %d schedules and this one has %d; delete one you no longer need (or give one schedule several object types)", MaxSchedulesPerTenant, len(have))
	}
	sid, err := a.NewID()
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "making a schedule ID")
	}
	s.Tenant, s.ID, s.CreatedBy, s.CreatedAt = id.Tenant, sid, id.User, a.Now().UTC()
	s.Active, s.NextRun = true, next
	if next.IsZero() {
		s.Active = false
		s.SuspendedReason = "its once time has passed; edit when.at, then resume it"
	}
	if err := st.PutSchedule(r.Context(), s); err != nil {
		return err
	}
	stored, err := st.GetSchedule(r.Context(), id.Tenant, sid)
	if err != nil {
		return err
	}
	a.Log.InfoContext(r.Context(), "schedule created", "tenant", id.Tenant, "schedule", sid, "next", next)
	w.Header().Set("Location", "/v1/schedules/"+sid)
	writeSchedule(w, http.StatusCreated, stored)
	return nil
}

// createSchedule creates a schedule from its definition; it is active and
// its first run is planned.
func (a *API) createSchedule(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	var b scheduleBody
	if err := decodeBody(r, &b); err != nil {
		return err
	}
	s, err := definition(b)
	if err != nil {
		return err
	}
	next, err := nextRun(s.Spec, a.Now())
	if err != nil {
		return err
	}
	return a.create(w, r, id, s, next)
}

// updateSchedule replaces a schedule's definition if it is still at the
// version the client read (409 otherwise), not running and not a once
// schedule already submitted; an active schedule's next run is planned
// anew, a suspended one gets its next run when it is resumed.
func (a *API) updateSchedule(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, sid, err := a.scheduleTarget(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	cur, err := st.GetSchedule(ctx, id.Tenant, sid)
	if err != nil {
		return err
	}
	var b scheduleEdit
	if err := decodeBody(r, &b); err != nil {
		return err
	}
	matched, err := ifMatch(r, cur)
	if err != nil {
		return err
	}
	switch {
	case matched >= 0 && b.Version == nil:
		b.Version = &matched
	case matched >= 0 && *b.Version != matched:
		return invalidAt("/version", "version %d and the If-Match header (version %d) disagree; send one, or both the same", *b.Version, matched)
	}
	if b.Version == nil {
		return invalidAt("/version", "version (or an If-Match header with the ETag) is required: send the version of the schedule you edited (GET /v1/schedules/%s shows it)", sid)
	}
	if cur.Submitted && cur.Spec.Frequency == schedule.Once {
		return bulkerr.New(bulkerr.Conflict, "schedule %s runs once and its run was already submitted (job %s); clone it to run it again with changes", sid, cur.LastJob)
	}
	s, err := definition(b.scheduleBody)
	if err != nil {
		return err
	}
	if s.NextRun, err = nextRun(s.Spec, a.Now()); err != nil {
		return err
	}
	if !cur.Active {
		s.NextRun = time.Time{} // planned when it is resumed
	}
	s.Tenant, s.ID, s.Version = id.Tenant, sid, *b.Version
	if err := st.UpdateSchedule(ctx, s); err != nil {
		return err
	}
	stored, err := st.GetSchedule(ctx, id.Tenant, sid)
	if err != nil {
		return err
	}
	a.Log.InfoContext(ctx, "schedule edited", "tenant", id.Tenant, "schedule", sid, "version", stored.Version)
	writeSchedule(w, http.StatusOK, stored)
	return nil
}

// deleteSchedule deletes a schedule (409 while it runs; 412 when an
// If-Match header names another version).
func (a *API) deleteSchedule(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, sid, err := a.scheduleTarget(r)
	if err != nil {
		return err
	}
	if r.Header.Get("If-Match") != "" {
		cur, err := st.GetSchedule(r.Context(), id.Tenant, sid)
		if err != nil {
			return err
		}
		if _, err := ifMatch(r, cur); err != nil {
			return err
		}
	}
	if err := st.DeleteSchedule(r.Context(), id.Tenant, sid); err != nil {
		return err
	}
	a.Log.InfoContext(r.Context(), "schedule deleted", "tenant", id.Tenant, "schedule", sid)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// cloneRequest is the optional body of POST /v1/schedules/{id}/clone.
type cloneRequest struct {
	Title string `json:"title"`
}

// cloneSchedule copies a schedule's definition into a new active schedule
// (a new ID, title "Copy of …" unless the body gives one, the next run
// planned from now; no history, failures or high-water mark). The clone
// of a once schedule whose time has passed is created suspended, to be
// given a new time and resumed.
func (a *API) cloneSchedule(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, sid, err := a.scheduleTarget(r)
	if err != nil {
		return err
	}
	src, err := st.GetSchedule(r.Context(), id.Tenant, sid)
	if err != nil {
		return err
	}
	var body cloneRequest
	if err := decodeOptionalBody(r, &body); err != nil {
		return err
	}
	title := body.Title
	if title == "" {
		title = truncate("Copy of "+src.Title, maxTitle)
	}
	mf := src.MaxFailures
	s, err := definition(scheduleBody{Title: title, Description: src.Description, ObjectTypes: src.ObjectTypes, Prefix: src.Prefix,
		When: src.Spec, Options: src.Options, MaxFailures: &mf})
	if err != nil {
		return err
	}
	next, ok, err := s.Spec.Next(a.Now())
	if err != nil {
		return err
	}
	if !ok {
		next = time.Time{}
	}
	return a.create(w, r, id, s, next.UTC())
}

// suspendSchedule stops a schedule from running until it is resumed (a
// run in progress goes on).
func (a *API) suspendSchedule(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, sid, err := a.scheduleTarget(r)
	if err != nil {
		return err
	}
	s, err := st.SetScheduleActive(r.Context(), id.Tenant, sid, 0, false, time.Time{}, "suspended by "+id.User)
	if err != nil {
		return err
	}
	a.Log.InfoContext(r.Context(), "schedule suspended", "tenant", id.Tenant, "schedule", sid)
	writeSchedule(w, http.StatusOK, s)
	return nil
}

// resumeSchedule makes a suspended schedule active again, its next run
// planned from now (runs missed while it was suspended are not made up).
// A once schedule that already ran or whose time has passed cannot be
// resumed (409); an active schedule is left as it is.
func (a *API) resumeSchedule(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, sid, err := a.scheduleTarget(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	cur, err := st.GetSchedule(ctx, id.Tenant, sid)
	if err != nil {
		return err
	}
	if cur.Spec.Frequency == schedule.Once && cur.Submitted {
		return bulkerr.New(bulkerr.Conflict, "schedule %s runs once and already ran (job %s); clone it to run it again", sid, cur.LastJob)
	}
	if cur.Active {
		writeSchedule(w, http.StatusOK, cur)
		return nil
	}
	next, ok, err := cur.Spec.Next(a.Now())
	if err != nil {
		return err
	}
	if !ok {
		return bulkerr.New(bulkerr.Conflict, "schedule %s runs once at %s (%s), which has passed; edit when.at to a future time (or clone it), then resume it", sid, cur.Spec.At, zoneName(cur.Spec))
	}
	s, err := st.SetScheduleActive(ctx, id.Tenant, sid, cur.Version, true, next.UTC(), "")
	if err != nil {
		return err
	}
	a.Log.InfoContext(ctx, "schedule resumed", "tenant", id.Tenant, "schedule", sid, "next", next)
	writeSchedule(w, http.StatusOK, s)
	return nil
}

// testSchedule runs a test export of a schedule now: its types and
// options, every object regardless of its range, at most
// exportspec.TestExportRows per type, in a ZIP named TEST_<usual name>. It
// takes the tenant's lock like any export (409 TENANT_BUSY while busy),
// is recorded in the schedule's history as a test, and leaves the
// schedule's state (next run, failures, high-water mark) alone.
func (a *API) testSchedule(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, sid, err := a.scheduleTarget(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	s, err := st.GetSchedule(ctx, id.Tenant, sid)
	if err != nil {
		return err
	}
	types, slugs, err := resolveTypes(s.ObjectTypes)
	if err != nil {
		return err
	}
	now := a.Now().UTC()
	req := exportflow.Request{ObjectTypes: slugs, Prefix: s.Prefix, Options: s.Options, ScheduleID: sid, Limit: exportspec.TestExportRows, TimeZone: s.Spec.TimeZone}
	j, err := a.startExport(ctx, id, testPrefix+exportzip.FileName(s.Prefix, types, now.In(s.Spec.Location()), s.Options), req, func(j jobs.Job) error {
		return st.RecordRun(ctx, dynamostore.ScheduleRun{Tenant: id.Tenant, ScheduleID: sid, JobID: j.ID, Test: true, At: now})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, a.view(j))
	return nil
}

// runView is one run of a schedule joined with its export job.
type runView struct {
	JobID   string            `json:"jobId"`
	Planned time.Time         `json:"planned,omitzero"`
	Window  exportspec.Window `json:"window,omitzero"`
	Test    bool              `json:"test,omitempty"`
	At      time.Time         `json:"at"`
	// Status is the job's; "Unknown" when its record is gone.
	Status    jobs.Status `json:"status"`
	StartedAt *time.Time  `json:"startedAt,omitempty"`
	EndedAt   *time.Time  `json:"endedAt,omitempty"`
	// Rows is how many objects the run wrote (so far), Files how many
	// CSV files its ZIP has.
	Rows       int    `json:"rows"`
	Files      int    `json:"files,omitempty"`
	FileName   string `json:"fileName,omitempty"`
	Error      string `json:"error,omitempty"`
	Percent    int    `json:"percent"`
	ETASeconds *int64 `json:"etaSeconds,omitempty"`
	// Links has the ZIP's short-lived download link (results) once the
	// run is Completed.
	Links *links `json:"links,omitempty"`
}

// statusUnknown is the status of a run whose job record is gone.
const statusUnknown jobs.Status = "Unknown"

// listRuns shows a schedule's history, newest first, a page at a time
// (limit 1 to 100, default 25; cursor: nextCursor of the previous page): each run with its job's status, times, rows, files, error,
// progress and ETA while it runs, and the ZIP's link once Completed.
func (a *API) listRuns(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, sid, err := a.scheduleTarget(r)
	if err != nil {
		return err
	}
	limit, after, err := pageParams(r, 25)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := st.GetSchedule(ctx, id.Tenant, sid); err != nil {
		return err
	}
	runs, next, err := st.PageRuns(ctx, id.Tenant, sid, after, int32(limit))
	if err != nil {
		return err
	}
	out := make([]runView, 0, len(runs))
	for _, run := range runs {
		v := runView{JobID: run.JobID, Planned: run.Planned, Window: run.Window, Test: run.Test, At: run.At}
		j, err := a.Jobs.GetJob(ctx, id.Tenant, run.JobID)
		switch {
		case bulkerr.KindOf(err) == bulkerr.NotFound:
			v.Status, v.Error = statusUnknown, "the run's job record is no longer available"
		case err != nil:
			return err
		default:
			jv := a.view(j)
			v.Status, v.StartedAt, v.EndedAt, v.FileName = j.Status, j.StartedAt, j.EndedAt, j.FileName
			v.Rows, v.Files, v.Percent, v.ETASeconds = j.Counts.Processed, j.Files, jv.Percent, jv.ETASeconds
			if j.Status != jobs.StatusCompleted {
				v.Error = j.Message
			} else if v.Links, err = a.jobLinks(ctx, j); err != nil {
				return err
			}
		}
		out = append(out, v)
	}
	writePage(w, "runs", out, next)
	return nil
}

// decodeOptionalBody is decodeBody for a body that may be left out (or
// empty): then v keeps its zero value.
func decodeOptionalBody(r *http.Request, v any) error {
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return bodyError(err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	return nil
}

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
