// Package httpapi is the service's HTTP API as a net/http handler. API
// Gateway reaches it through the Lambda adapter in this package; the local
// dev server serves the same handler directly.
//
// Every route but health and the OpenAPI document needs a verified
// identity (package authn); the tenant comes from it and from nothing in the
// request, so a request can only ever read or write its own tenant's data.
// Errors are RFC 9457 problem documents with stable codes; internal error
// text never reaches a client.
package httpapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// OpenAPI is the API's OpenAPI 3.1 document, served at /v1/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// jobStore reads a tenant's jobs.
type jobStore interface {
	GetJob(ctx context.Context, tenant, id string) (jobs.Job, error)
	PageJobs(ctx context.Context, tenant, after string, limit int32) ([]jobs.Job, string, error)
}

// lockReader tells whether a tenant runs a bulk operation.
type lockReader interface {
	PeekLock(ctx context.Context, tenant string) (dynamostore.Lock, error)
}

// settingsReader reads per-tenant settings.
type settingsReader interface {
	TenantSettings(ctx context.Context, tenant string) (dynamostore.TenantSettings, error)
}

// uploadRegistrar records the uploads the API issues, so the import trusts
// a job ID in an upload's metadata only when the API issued it for that key.
type uploadRegistrar interface {
	RegisterUpload(ctx context.Context, g dynamostore.UploadGrant, ttl time.Duration) error
}

// fileSigner signs uploads and downloads.
type fileSigner interface {
	PresignUpload(ctx context.Context, key string, maxBytes int64, meta map[string]string, ttl time.Duration) (s3store.Upload, error)
	PresignGet(ctx context.Context, key, fileName string, ttl time.Duration) (string, error)
}

// API holds the handler's dependencies.
type API struct {
	Auth     authn.Authenticator
	Jobs     jobStore
	Locks    lockReader
	Settings settingsReader
	Files    fileSigner
	// Uploads records each issued upload (job ID, tenant, key, submitter).
	Uploads uploadRegistrar
	// ExportStore and Exports start on-demand exports.
	ExportStore exportStore
	Exports     exportStarter
	// Schedules keeps scheduled exports and their history.
	Schedules scheduleStore
	// LockLease is the lease an export takes on the tenant lock (default 5 minutes).
	LockLease time.Duration
	// NewID returns a new time-sortable job ID.
	NewID func() (string, error)
	Now   func() time.Time
	Log   *slog.Logger
	// LinkTTL is how long download links work (default 15 minutes).
	LinkTTL time.Duration
	// UploadTTL is how long an upload form works (default 15 minutes).
	UploadTTL time.Duration
}

// route is one API route; the same table registers the handlers and is
// checked against the OpenAPI document.
type route struct {
	method, pattern string
	public          bool
	handle          func(a *API, w http.ResponseWriter, r *http.Request, id authn.Identity) error
}

var routes = []route{
	{"GET", "/v1/health", true, (*API).health},
	{"GET", "/v1/openapi.json", true, (*API).openapi},
	{"GET", "/v1/object-types", false, (*API).listTypes},
	{"GET", "/v1/object-types/{type}", false, (*API).getType},
	{"GET", "/v1/object-types/{type}/template", false, (*API).template},
	{"POST", "/v1/imports", false, (*API).createImport},
	{"POST", "/v1/exports", false, (*API).createExport},
	{"GET", "/v1/jobs", false, (*API).listJobs},
	{"GET", "/v1/jobs/{id}", false, (*API).getJob},
	{"GET", "/v1/schedules", false, (*API).listSchedules},
	{"POST", "/v1/schedules", false, (*API).createSchedule},
	{"GET", "/v1/schedules/{id}", false, (*API).getSchedule},
	{"PUT", "/v1/schedules/{id}", false, (*API).updateSchedule},
	{"DELETE", "/v1/schedules/{id}", false, (*API).deleteSchedule},
	{"POST", "/v1/schedules/{id}/clone", false, (*API).cloneSchedule},
	{"POST", "/v1/schedules/{id}/suspend", false, (*API).suspendSchedule},
	{"POST", "/v1/schedules/{id}/resume", false, (*API).resumeSchedule},
	{"POST", "/v1/schedules/{id}/test", false, (*API).testSchedule},
	{"GET", "/v1/schedules/{id}/runs", false, (*API).listRuns},
}

// Handler returns the API as an http.Handler.
func (a *API) Handler() http.Handler {
	if a.Now == nil {
		a.Now = time.Now
	}
	if a.Log == nil {
		a.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if a.LinkTTL == 0 {
		a.LinkTTL = 15 * time.Minute
	}
	if a.LockLease == 0 {
		a.LockLease = 5 * time.Minute
	}
	if a.UploadTTL == 0 {
		a.UploadTTL = 15 * time.Minute
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			var id authn.Identity
			if !rt.public {
				var err error
				if id, err = a.Auth.Identify(r); err != nil {
					a.problem(w, r, err)
					return
				}
			}
			if err := rt.handle(a, w, r, id); err != nil {
				a.problem(w, r, err)
			}
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.problem(w, r, bulkerr.New(bulkerr.NotFound, "no route %s %s; see /v1/openapi.json", r.Method, r.URL.Path))
	})
	return mux
}

func (a *API) health(w http.ResponseWriter, _ *http.Request, _ authn.Identity) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (a *API) openapi(w http.ResponseWriter, _ *http.Request, _ authn.Identity) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(OpenAPI)
	return err
}

// problemCodes are the stable codes of problem documents, by error kind.
var problemCodes = map[bulkerr.Kind]string{
	bulkerr.Invalid:         "INVALID_REQUEST",
	bulkerr.NotFound:        "NOT_FOUND",
	bulkerr.Conflict:        "CONFLICT",
	bulkerr.Busy:            "TENANT_BUSY",
	bulkerr.Transient:       "TRY_AGAIN",
	bulkerr.Internal:        "INTERNAL",
	bulkerr.Unauthenticated: "UNAUTHENTICATED",
}

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	// ActiveJobID names the job holding the tenant's lock (TENANT_BUSY).
	ActiveJobID string `json:"activeJobId,omitempty"`
}

// busyError is a Busy error that names the active job.
type busyError struct {
	error
	job string
}

func (e busyError) Unwrap() error { return e.error }

func (a *API) problem(w http.ResponseWriter, r *http.Request, err error) {
	status := bulkerr.HTTPStatus(err)
	kind := bulkerr.KindOf(err)
	p := Problem{
		Type:  "https://bulkops.dev/problems/" + strings.ToLower(strings.ReplaceAll(problemCodes[kind], "_", "-")),
		Title: http.StatusText(status), Status: status, Detail: bulkerr.Message(err), Code: problemCodes[kind],
	}
	var be busyError
	if errors.As(err, &be) {
		p.ActiveJobID = be.job
	}
	if kind == bulkerr.Internal || kind == bulkerr.Transient {
		a.Log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err.Error())
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="bulkops"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON body of at most 16 KiB into v, refusing unknown
// fields, so a misspelt field is an error and not silently ignored.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bulkerr.New(bulkerr.Invalid, "the request body is not the expected JSON: %s", jsonMessage(err))
	}
	return nil
}

func jsonMessage(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be a %s", te.Field, te.Type.Kind())
	case errors.Is(err, io.EOF):
		return "the body is empty"
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field") {
		return strings.TrimPrefix(msg, "json: ")
	}
	if strings.Contains(msg, "request body too large") {
		return "the body is larger than 16 KiB"
	}
	return "cannot decode"
}
