package httpapi

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// jobIDPattern is what job IDs look like (ULIDs); anything else is not a
// job and never reaches the store.
var jobIDPattern = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)

// view is j as the API shows it, with its progress and ETA now.
func (a *API) view(j jobs.Job) bulkapi.Job {
	p := j.ProgressAt(a.Now())
	v := bulkapi.Job{Job: j, Percent: p.Percent, ETASeconds: p.ETASeconds}
	if j.Status == jobs.StatusFailed {
		v.FailedIn = jobs.FailurePhase(j)
	}
	return v
}

// getJob shows one job with progress, ETA and short-lived links to its
// error and results files. Another tenant's job is not found.
func (a *API) getJob(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	jobID := r.PathValue("id")
	if !jobIDPattern.MatchString(jobID) {
		return bulkerr.New(bulkerr.NotFound, "job %q not found", jobID)
	}
	j, err := a.Jobs.GetJob(r.Context(), id.Tenant, jobID)
	if err != nil {
		return err
	}
	v := a.view(j)
	if v.Links, err = a.jobLinks(r.Context(), j); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// cancelJob cancels one of the caller's tenant's jobs that is New or In
// Progress (any administrator of the tenant may; the tenant comes from the
// verified token) and answers the job as it ended: Cancelled, with links to
// its reports. A job that has ended is 409 CONFLICT; another tenant's job
// is not found.
func (a *API) cancelJob(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	jobID := r.PathValue("id")
	if !jobIDPattern.MatchString(jobID) {
		return bulkerr.New(bulkerr.NotFound, "job %q not found", jobID)
	}
	if a.Cancels == nil {
		return bulkerr.New(bulkerr.Internal, "cancelling jobs is not configured")
	}
	j, err := a.Cancels.Cancel(r.Context(), id.Tenant, jobID, id.User)
	if err != nil {
		return err
	}
	a.Log.InfoContext(r.Context(), "job cancelled", "tenant", id.Tenant, "job", jobID, "by", id.User, "status", string(j.Status))
	v := a.view(j)
	if v.Links, err = a.jobLinks(r.Context(), j); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// jobLinks signs short-lived links to a job's error and results files
// (an export's results file is its ZIP) and a dry run's change file; nil
// when it has none.
func (a *API) jobLinks(ctx context.Context, j jobs.Job) (*bulkapi.Links, error) {
	if j.ErrorKey == "" && j.ResultsKey == "" {
		return nil, nil
	}
	l := &bulkapi.Links{ExpiresAt: a.Now().Add(a.LinkTTL).UTC()}
	base := strings.TrimSuffix(j.FileName, ".csv")
	var err error
	if j.ErrorKey != "" {
		if l.Errors, err = a.Files.PresignGet(ctx, j.ErrorKey, base+"-errors.csv", a.LinkTTL); err != nil {
			return nil, err
		}
	}
	if j.ResultsKey != "" {
		name := base + "-results.csv"
		if j.Type == jobs.TypeExport {
			name = j.FileName // the export's ZIP
		}
		// The job's own version: a stable-name export's key holds the
		// latest run's file, an earlier run's link still gets its own.
		if l.Results, err = a.Files.PresignGetVersion(ctx, j.ResultsKey, j.ResultsVersion, name, a.LinkTTL); err != nil {
			return nil, err
		}
	}
	if key := changesKey(j); key != "" {
		if l.Changes, err = a.Files.PresignGet(ctx, key, base+"-changes.csv", a.LinkTTL); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// jobFilter is what GET /v1/jobs filters on.
type jobFilter struct {
	typ        jobs.Type
	objectType string
	status     jobs.Status
	text       string // lower case; file name, job ID or submitter contains it
}

func (f jobFilter) match(j jobs.Job) bool {
	switch {
	case f.typ != "" && j.Type != f.typ,
		f.objectType != "" && j.ObjectType != f.objectType,
		f.status != "" && j.Status != f.status:
		return false
	case f.text == "":
		return true
	}
	for _, s := range []string{j.FileName, j.ID, j.SubmittedBy} {
		if strings.Contains(strings.ToLower(s), f.text) {
			return true
		}
	}
	return false
}

// maxScan bounds the jobs one list request examines, so a rare filter
// cannot make a request slow; the cursor continues the search.
const maxScan = 1000

// listJobs lists the tenant's jobs newest first, filtered, a page at a time.
func (a *API) listJobs(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	q := r.URL.Query()
	var f jobFilter
	switch t := q.Get("type"); t {
	case "", string(jobs.TypeImport), string(jobs.TypeExport):
		f.typ = jobs.Type(t)
	default:
		return bulkerr.New(bulkerr.Invalid, "type %q is not import or export", t)
	}
	if ot := q.Get("objectType"); ot != "" {
		t, err := objecttype.Lookup(ot)
		if err != nil {
			return err
		}
		f.objectType = t.Slug
	}
	if s := q.Get("status"); s != "" {
		st, ok := parseStatus(s)
		if !ok {
			return bulkerr.New(bulkerr.Invalid, "status %q is not one of New, In Progress, Completed, Completed with errors, Failed, Cancelled", s)
		}
		f.status = st
	}
	f.text = strings.ToLower(strings.TrimSpace(q.Get("q")))
	limit := 25
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			return bulkerr.New(bulkerr.Invalid, "limit %q must be a whole number from 1 to 100", l)
		}
		limit = n
	}
	after := q.Get("cursor")
	if after != "" && !jobIDPattern.MatchString(after) {
		return bulkerr.New(bulkerr.Invalid, "cursor %q is not one this API issued; pass nextCursor from the previous page", after)
	}
	out := []bulkapi.Job{}
	cursor, scanned := "", 0
pages:
	for {
		page, next, err := a.Jobs.PageJobs(r.Context(), id.Tenant, after, 100)
		if err != nil {
			return err
		}
		for i, j := range page {
			scanned++
			if !f.match(j) {
				continue
			}
			out = append(out, a.view(j))
			if len(out) == limit {
				if i < len(page)-1 || next != "" {
					cursor = j.ID
				}
				break pages
			}
		}
		if next == "" {
			break
		}
		after, cursor = next, next
		if scanned >= maxScan {
			break
		}
	}
	writeJSON(w, http.StatusOK, bulkapi.JobPage{Jobs: out, NextCursor: cursor})
	return nil
}

func parseStatus(s string) (jobs.Status, bool) {
	for _, st := range jobs.Statuses {
		if strings.EqualFold(strings.ReplaceAll(s, "_", " "), string(st)) {
			return st, true
		}
	}
	return "", false
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, bulkerr.New(bulkerr.Invalid, "%s=%q must be true or false", name, v)
	}
	return b, nil
}
