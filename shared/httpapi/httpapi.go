// Package httpapi is the service's HTTP API as a net/http handler. API
// Gateway reaches it through the Lambda adapter (package apigwlambda); the
// local dev server serves the same handler directly.
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
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/blob"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/delivery"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/notify"
	"github.com/ccbulk/bulkops/shared/tenancy"
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
	PeekLock(ctx context.Context, tenant string) (tenancy.Lock, error)
}

// settingsReader reads per-tenant settings.
type settingsReader interface {
	TenantSettings(ctx context.Context, tenant string) (tenancy.Settings, error)
}

// uploadRegistrar records the uploads the API issues, so the import trusts
// a job ID in an upload's metadata only when the API issued it for that key.
type uploadRegistrar interface {
	RegisterUpload(ctx context.Context, g jobs.UploadGrant, ttl time.Duration) error
}

// fileSigner signs uploads and downloads.
type fileSigner interface {
	PresignUpload(ctx context.Context, key string, maxBytes int64, meta map[string]string, ttl time.Duration) (blob.Upload, error)
	PresignGet(ctx context.Context, key, fileName string, ttl time.Duration) (string, error)
	PresignGetVersion(ctx context.Context, key, versionID, fileName string, ttl time.Duration) (string, error)
}

// jobCanceller cancels a running job (jobcancel.Canceller).
type jobCanceller interface {
	Cancel(ctx context.Context, tenant, id, user string) (jobs.Job, error)
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
	// Operators identifies the callers of operator routes (nil: Auth, when
	// it can; see operator.go), and OperatorSettings keeps the settings
	// they set.
	Operators        operatorAuth
	OperatorSettings settingsAdmin
	// Cancels cancels running imports and exports.
	Cancels jobCanceller
	// Targets keeps delivery targets, Credentials their credentials
	// (Secrets Manager), Deliver tests them (nil: no targets).
	Targets     targetStore
	Credentials credentialStore
	Deliver     delivery.Deliverer
	// Notifications keeps the tenants' notification contacts, and
	// WebhookSecrets their webhooks' signing secrets (nil: webhooks cannot
	// be set); NotifyPolicy is what a contact may be
	// (docs/notifications.md).
	Notifications  notificationStore
	WebhookSecrets webhookSecrets
	NotifyPolicy   notify.Policy
	// Previews checks a dry run before its changes are applied, and
	// Copier copies the previewed file version to start the import.
	Previews previewChecker
	Copier   versionCopier
	// Retries starts the retries of finished imports' rejected rows.
	Retries retryStarter
	// Idempotency keeps the answers to POSTs sent with an Idempotency-Key
	// (nil: keys are ignored).
	Idempotency idempotencyStore
	// IdempotencyTTL is how long an answer is replayed (default 24 hours).
	IdempotencyTTL time.Duration
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
	{"POST", "/v1/jobs/{id}/cancel", false, (*API).cancelJob},
	{"POST", "/v1/jobs/{id}/apply", false, (*API).applyJob},
	{"POST", "/v1/jobs/{id}/retry", false, (*API).retryJob},
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
	{"GET", "/v1/targets", false, (*API).listTargets},
	{"POST", "/v1/targets", false, (*API).createTarget},
	{"GET", "/v1/targets/{id}", false, (*API).getTarget},
	{"PATCH", "/v1/targets/{id}", false, (*API).updateTarget},
	{"DELETE", "/v1/targets/{id}", false, (*API).deleteTarget},
	{"POST", "/v1/targets/{id}/test", false, (*API).testTarget},
	{"GET", "/v1/settings/notifications", false, (*API).getNotifications},
	{"PUT", "/v1/settings/notifications", false, (*API).putNotifications},
	{"GET", "/v1/settings", false, (*API).getOwnSettings},
	{"GET", "/v1/operator/tenants/{tenant}/settings", false, (*API).getOperatorSettings},
	{"PUT", "/v1/operator/tenants/{tenant}/settings", false, (*API).putOperatorSettings},
	{"GET", "/v1/operator/tenants/{tenant}/settings/audit", false, (*API).getSettingsAudit},
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
	if a.IdempotencyTTL == 0 {
		a.IdempotencyTTL = 24 * time.Hour
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		handle := rt.handle
		if rt.method == http.MethodPost && !rt.public {
			handle = idempotent(handle)
		}
		mux.HandleFunc(rt.method+" "+rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			var id authn.Identity
			if strings.HasPrefix(rt.pattern, operatorPrefix) { // operators, never tenants (operator.go)
				var err error
				if r, err = a.identifyOperator(r); err != nil {
					a.problem(w, r, err)
					return
				}
			} else if !rt.public {
				var err error
				if id, err = a.Auth.Identify(r); err != nil {
					a.problem(w, r, err)
					return
				}
			}
			if err := handle(a, w, r, id); err != nil {
				a.problem(w, r, err)
			}
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.problem(w, r, bulkerr.New(bulkerr.NotFound, "no route %s %s; see /v1/openapi.json", r.Method, r.URL.Path))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", NewRequestID())
		mux.ServeHTTP(w, r)
	})
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON body of at most maxBody into v, refusing unknown
// fields, so a misspelt field is an error and not silently ignored. The
// error points at the field (JSON pointer) where it can.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	return nil
}

// maxBody is the largest JSON body the API reads.
const maxBody = 16 << 10

// bodyError turns a JSON decoding error into an Invalid error that names
// the field at fault.
func bodyError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	msg := err.Error()
	switch {
	case errors.As(err, &se):
		return invalidAt("", "the request body is not JSON: syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		ptr := pointer(strings.Split(te.Field, ".")...)
		return invalidAt(ptr, "the request body is not the expected JSON: field %q must be a %s", te.Field, jsonKind(te))
	case errors.Is(err, io.EOF):
		return invalidAt("", "the request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalidAt("", "the request body is not JSON: it ends too early")
	case strings.HasPrefix(msg, "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(msg, "json: unknown field "))
		return invalidAt(pointer(name), "the request body is not the expected JSON: unknown field %q", name)
	case strings.Contains(msg, "request body too large"):
		return invalidAt("", "the request body is larger than %d KiB", maxBody>>10)
	}
	return invalidAt("", "the request body is not the expected JSON: cannot decode it")
}

func jsonKind(te *json.UnmarshalTypeError) string {
	switch k := te.Type.Kind().String(); {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "number"
	case k == "slice":
		return "list"
	case k == "struct", k == "map":
		return "object"
	default:
		return k
	}
}
