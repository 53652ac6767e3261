package httpapi

import (
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ccbulk/bulkops/shared/audiozip"
	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// createImport answers with a presigned POST for the tenant's upload key.
// The key, the size limit and the job's metadata (job ID, submitter, dry
// run) are pinned by the policy. While the tenant runs a bulk operation it
// answers 409 with the active job's ID.
func (a *API) createImport(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	var req bulkapi.ImportRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	slug, ext, audio := "", ".csv", audiozip.IsSlug(req.ObjectType)
	if audio {
		slug, ext = audiozip.Slug, ".zip"
	} else {
		t, err := objecttype.Lookup(req.ObjectType)
		if err != nil {
			return atField("/objectType", err)
		}
		slug = t.Slug
	}
	name, err := cleanFileName(req.FileName, ext)
	if err != nil {
		return atField("/fileName", err)
	}
	lock, err := a.Locks.PeekLock(r.Context(), id.Tenant)
	if err != nil {
		return err
	}
	if lock.Holder != "" {
		return busyError{error: bulkerr.New(bulkerr.Busy, "another bulk operation is in progress (job %s); try again when it has finished", lock.Holder), job: lock.Holder}
	}
	maxBytes := csvread.DefaultLimits().MaxBytes
	ts, err := a.Settings.TenantSettings(r.Context(), id.Tenant)
	if err != nil {
		return err
	}
	switch {
	case audio:
		maxBytes = audiozip.DefaultLimits().MaxArchiveBytes
	case ts.LargeFiles:
		maxBytes = csvread.LargeLimits().MaxBytes
	}
	jobID, err := a.NewID()
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "making a job ID")
	}
	key := path.Join("imports", id.Tenant, slug, name)
	if err := a.Uploads.RegisterUpload(r.Context(), jobs.UploadGrant{
		Tenant: id.Tenant, JobID: jobID, Key: key, SubmittedBy: id.User, DryRun: req.DryRun,
	}, a.UploadTTL); err != nil {
		return err
	}
	up, err := a.Files.PresignUpload(r.Context(), key, maxBytes, map[string]string{
		importflow.MetaJobID:       jobID,
		importflow.MetaSubmittedBy: id.User,
		importflow.MetaDryRun:      strconv.FormatBool(req.DryRun),
	}, a.UploadTTL)
	if err != nil {
		return err
	}
	a.Log.InfoContext(r.Context(), "upload issued", "tenant", id.Tenant, "job", jobID, "key", key, "dryRun", req.DryRun)
	writeJSON(w, http.StatusCreated, bulkapi.Import{
		JobID: jobID, ObjectType: slug, FileName: name, DryRun: req.DryRun,
		MaxBytes: maxBytes, ExpiresAt: a.Now().Add(a.UploadTTL).UTC(), Upload: bulkapi.Upload{URL: up.URL, Fields: up.Fields},
	})
	return nil
}

// cleanFileName checks the client's file name: it becomes the last part of
// the upload key, so no path separators, no control characters, at most 200
// characters, ending in ext (.csv, or .zip for audio prompts).
func cleanFileName(name, ext string) (string, error) {
	name = strings.TrimSpace(name)
	bad := func(why string) (string, error) {
		return "", bulkerr.New(bulkerr.Invalid, "fileName %q %s", name, why)
	}
	switch {
	case name == "":
		return bad("is empty; send the name of the file you will upload, such as queues.csv")
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > 200:
		return bad("must be UTF-8 of at most 200 characters")
	case strings.ContainsAny(name, `/\`) || name == "." || name == "..":
		return bad("must be a bare file name, without folders")
	case !strings.EqualFold(path.Ext(name), ext):
		return bad("must end in " + ext)
	}
	for _, c := range name {
		if unicode.IsControl(c) {
			return bad("contains a control character")
		}
	}
	return name, nil
}
