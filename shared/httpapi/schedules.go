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
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/exportzip"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// scheduleStore keeps a tenant's scheduled exports and their run history
// (dynamostore.Store).
type scheduleStore interface {
	PutSchedule(ctx context.Context, s schedule.Schedule) error
	GetSchedule(ctx context.Context, tenant, id string) (schedule.Schedule, error)
	ListSchedules(ctx context.Context, tenant string) ([]schedule.Schedule, error)
	UpdateSchedule(ctx context.Context, s schedule.Schedule) error
	DeleteSchedule(ctx context.Context, tenant, id string) error
	SetScheduleActive(ctx context.Context, tenant, id string, version int64, active bool, next time.Time, reason string) (schedule.Schedule, error)
	RecordRun(ctx context.Context, r schedule.Run) error
	PageRuns(ctx context.Context, tenant, scheduleID, after string, limit int32) ([]schedule.Run, string, error)
}

// testPrefix starts the ZIP name of a test export.
const testPrefix = "TEST_"

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

// MaxSchedulesPerTenant is how many schedules one tenant may have
// (schedule.MaxPerTenant).
const MaxSchedulesPerTenant = schedule.MaxPerTenant

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
	out := make([]bulkapi.Schedule, 0, min(len(list), limit))
	next := ""
	for _, s := range list {
		if after != "" && s.ID <= after {
			continue
		}
		if len(out) == limit {
			next = out[len(out)-1].ID
			break
		}
		out = append(out, bulkapi.NewSchedule(s))
	}
	writeJSON(w, http.StatusOK, bulkapi.SchedulePage{Schedules: out, NextCursor: next})
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

// etag is a schedule's entity tag: its version.
func etag(s schedule.Schedule) string { return fmt.Sprintf("%q", strconv.FormatInt(s.Version, 10)) }

// writeSchedule answers with a schedule and its ETag.
func writeSchedule(w http.ResponseWriter, status int, s schedule.Schedule) {
	w.Header().Set("ETag", etag(s))
	writeJSON(w, status, bulkapi.NewSchedule(s))
}

// ifMatch checks a request's If-Match header against the schedule's
// current version: nil when there is none (or "*"), a Stale error (412)
// when it names another version. It returns the version it named (-1 for
// none).
func ifMatch(r *http.Request, cur schedule.Schedule) (int64, error) {
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

// create stores d (canonical) as a new schedule of the caller with a new
// ID and its next run (schedule.New), and answers 201 with what was stored.
func (a *API) create(w http.ResponseWriter, r *http.Request, id authn.Identity, d schedule.Definition, next time.Time) error {
	st, err := a.schedules()
	if err != nil {
		return err
	}
	have, err := st.ListSchedules(r.Context(), id.Tenant)
	if err != nil {
		return err
	}
	if err := schedule.CanAdd(len(have)); err != nil {
		return err
	}
	sid, err := a.NewID()
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "making a schedule ID")
	}
	if err := st.PutSchedule(r.Context(), schedule.New(id.Tenant, sid, id.User, d, next, a.Now())); err != nil {
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
	var b schedule.Definition
	if err := decodeBody(r, &b); err != nil {
		return err
	}
	d, err := b.Canonical()
	if err != nil {
		return err
	}
	if err := a.checkTarget(r.Context(), id.Tenant, d.TargetID); err != nil {
		return err
	}
	next, err := d.Spec.FirstRun(a.Now())
	if err != nil {
		return err
	}
	return a.create(w, r, id, d, next)
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
	var b bulkapi.ScheduleEdit
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
	if err := cur.CanChange(); err != nil {
		return err
	}
	d, err := b.Canonical()
	if err != nil {
		return err
	}
	if err := a.checkTarget(ctx, id.Tenant, d.TargetID); err != nil {
		return err
	}
	s, err := cur.Edit(d, *b.Version, a.Now())
	if err != nil {
		return err
	}
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
	var body bulkapi.CloneRequest
	if err := decodeOptionalBody(r, &body); err != nil {
		return err
	}
	title := body.Title
	if title == "" {
		title = truncate("Copy of "+src.Title, schedule.MaxTitle)
	}
	b := src.Definition
	b.Title = title
	d, err := b.Canonical()
	if err != nil {
		return err
	}
	next, ok, err := d.Spec.Next(a.Now())
	if err != nil {
		return err
	}
	if !ok {
		next = time.Time{}
	}
	return a.create(w, r, id, d, next.UTC())
}

// suspendSchedule stops a schedule from running until it is resumed (a
// run in progress goes on).
func (a *API) suspendSchedule(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, sid, err := a.scheduleTarget(r)
	if err != nil {
		return err
	}
	s, err := st.SetScheduleActive(r.Context(), id.Tenant, sid, 0, false, time.Time{}, schedule.SuspendedBy(id.User))
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
	if err := cur.CanResume(); err != nil {
		return err
	}
	if cur.Active {
		writeSchedule(w, http.StatusOK, cur)
		return nil
	}
	next, err := cur.ResumeRun(a.Now())
	if err != nil {
		return err
	}
	s, err := st.SetScheduleActive(ctx, id.Tenant, sid, cur.Version, true, next, "")
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
	types, slugs, err := schedule.ResolveTypes(s.ObjectTypes)
	if err != nil {
		return err
	}
	now := a.Now().UTC()
	req := exportflow.Request{ObjectTypes: slugs, Prefix: s.Prefix, Options: s.Options, ScheduleID: sid, Limit: exportspec.TestExportRows, TimeZone: s.Spec.TimeZone}
	j, err := a.startExport(ctx, id, testPrefix+exportzip.FileName(s.Prefix, types, now.In(s.Spec.Location()), s.Options), req, func(j jobs.Job) error {
		return st.RecordRun(ctx, schedule.Run{Tenant: id.Tenant, ScheduleID: sid, JobID: j.ID, Test: true, At: now})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, a.view(j))
	return nil
}

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
	out := make([]bulkapi.Run, 0, len(runs))
	for _, run := range runs {
		v := bulkapi.Run{Run: run}
		j, err := a.Jobs.GetJob(ctx, id.Tenant, run.JobID)
		switch {
		case bulkerr.KindOf(err) == bulkerr.NotFound:
			v.Status, v.Error = bulkapi.StatusUnknown, "the run's job record is no longer available"
		case err != nil:
			return err
		default:
			jv := a.view(j)
			v.Status, v.StartedAt, v.EndedAt, v.FileName = j.Status, j.StartedAt, j.EndedAt, j.FileName
			v.Rows, v.Files, v.Percent, v.ETASeconds = j.Counts.Processed, j.Files, jv.Percent, jv.ETASeconds
			v.Delivery = j.Delivery
			if j.Status != jobs.StatusCompleted {
				v.Error = j.Message
			} else if v.Links, err = a.jobLinks(ctx, j); err != nil {
				return err
			}
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, bulkapi.RunPage{Runs: out, NextCursor: next})
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
