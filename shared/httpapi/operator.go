package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

// Operator routes (/v1/operator/...) are for operators only: callers whose
// token carries the operator scope (template parameter OperatorScope).
// API Gateway's authorizer requires the scope on these routes and the
// handler checks it again (authn.OperatorAuthenticator); a tenant
// administrator's token is Forbidden. An operator acts on the tenant the
// path names, never one from a body, and every change is audited (the
// control table's audit items and a log line).
const operatorPrefix = "/v1/operator/"

// operatorAuth identifies operators (authn.Claims, authn.Verifier).
type operatorAuth interface {
	IdentifyOperator(r *http.Request) (authn.Operator, error)
}

// settingsAdmin keeps tenants' settings with versions and an audit
// (dynamostore.Store).
type settingsAdmin interface {
	SettingsRecord(ctx context.Context, tenant string) (tenancy.SettingsRecord, error)
	PutSettingsAndContact(ctx context.Context, tenant string, ts tenancy.Settings, contact *tenancy.ContactChange, ifVersion int64, by string, at time.Time) (tenancy.SettingsRecord, tenancy.SettingsChange, error)
	SettingsAudit(ctx context.Context, tenant string, limit int32) ([]tenancy.SettingsChange, error)
}

type operatorKey struct{}

// identifyOperator authenticates an operator route's caller; the handlers
// read the operator with operatorOf.
func (a *API) identifyOperator(r *http.Request) (*http.Request, error) {
	auth := a.Operators
	if auth == nil {
		auth, _ = a.Auth.(operatorAuth)
	}
	if auth == nil {
		return r, bulkerr.New(bulkerr.Forbidden, "this API has no operators")
	}
	op, err := auth.IdentifyOperator(r)
	if err != nil {
		return r, err
	}
	return r.WithContext(context.WithValue(r.Context(), operatorKey{}, op)), nil
}

// operatorOf is the operator identifyOperator verified.
func operatorOf(r *http.Request) (authn.Operator, error) {
	op, ok := r.Context().Value(operatorKey{}).(authn.Operator)
	if !ok || op.Name == "" {
		return authn.Operator{}, bulkerr.New(bulkerr.Forbidden, "operator routes need an operator's token")
	}
	return op, nil
}

// operatorTarget is the operator and the path's tenant.
func (a *API) operatorTarget(r *http.Request) (authn.Operator, string, error) {
	op, err := operatorOf(r)
	if err != nil {
		return op, "", err
	}
	if a.OperatorSettings == nil {
		return op, "", bulkerr.New(bulkerr.NotFound, "tenant settings are not available on this API")
	}
	tenant := r.PathValue("tenant")
	if !authn.ValidTenant(tenant) {
		return op, "", bulkerr.New(bulkerr.Invalid, "the path names tenant %q, which is not a tenant ID (lower-case letters, digits and -, at most 63)", tenant)
	}
	return op, tenant, nil
}

func settingsETag(version int64) string { return fmt.Sprintf("%q", strconv.FormatInt(version, 10)) }

func writeTenantSettings(w http.ResponseWriter, rec tenancy.SettingsRecord) {
	w.Header().Set("ETag", settingsETag(rec.Version))
	writeJSON(w, http.StatusOK, bulkapi.NewTenantSettings(rec))
}

// getOperatorSettings shows a tenant's settings (a tenant without any has
// version 0 and the defaults).
func (a *API) getOperatorSettings(w http.ResponseWriter, r *http.Request, _ authn.Identity) error {
	_, tenant, err := a.operatorTarget(r)
	if err != nil {
		return err
	}
	rec, err := a.OperatorSettings.SettingsRecord(r.Context(), tenant)
	if err != nil {
		return err
	}
	writeTenantSettings(w, rec)
	return nil
}

// putOperatorSettings replaces a tenant's settings. If-Match is required:
// the ETag of the settings the operator read ("0" for a tenant without
// any), or * to replace whatever is there.
func (a *API) putOperatorSettings(w http.ResponseWriter, r *http.Request, _ authn.Identity) error {
	op, tenant, err := a.operatorTarget(r)
	if err != nil {
		return err
	}
	ifVersion, err := settingsIfMatch(r)
	if err != nil {
		return err
	}
	var body bulkapi.SettingsBody
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	ts := body.Settings()
	if err := ts.Check(tenancy.HardCeilings()); err != nil {
		return err
	}
	var contact *tenancy.ContactChange
	if n := body.Notification; n != nil {
		// The contact is checked, and the version compared, before a
		// secret is stored; the store compares the version again.
		cur, err := a.OperatorSettings.SettingsRecord(r.Context(), tenant)
		if err != nil {
			return err
		}
		if ifVersion >= 0 && cur.Version != ifVersion {
			return bulkerr.New(bulkerr.Stale, "the settings of tenant %s are at version %d (ETag \"%d\"), not %d: someone changed them; read them again and redo your change", tenant, cur.Version, cur.Version, ifVersion)
		}
		c, err := a.newContact(tenant, n.Email, n.Webhook, n.WebhookSecret, cur.Settings.Notification, "/notification")
		if err != nil {
			return err
		}
		if err := a.keepWebhookSecret(r.Context(), tenant, n.WebhookSecret, &c, "/notification"); err != nil {
			return err
		}
		contact = &tenancy.ContactChange{Contact: c, SecretReplaced: n.WebhookSecret != ""}
	}
	rec, change, err := a.OperatorSettings.PutSettingsAndContact(r.Context(), tenant, ts, contact, ifVersion, op.Name, a.Now())
	if err != nil {
		return err
	}
	before, _ := json.Marshal(bulkapi.NewSettingsBody(change.Before))
	after, _ := json.Marshal(bulkapi.NewSettingsBody(change.After))
	a.Log.InfoContext(r.Context(), "tenant settings changed", "tenant", tenant, "operator", op.Name,
		"version", change.Version, "at", change.At, "before", string(before), "after", string(after),
		"webhookSecretReplaced", change.SecretReplaced)
	writeTenantSettings(w, rec)
	return nil
}

// settingsIfMatch reads the required If-Match header: the version it
// names, or -1 for *.
func settingsIfMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, bulkerr.New(bulkerr.Invalid, "send If-Match with the ETag of the settings you read (GET shows it; \"0\" for a tenant without settings), or If-Match: * to replace them whatever they are")
	}
	if h == "*" {
		return -1, nil
	}
	v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil || v < 0 || strings.Contains(h, ",") {
		return 0, bulkerr.New(bulkerr.Invalid, "If-Match %s is not an ETag of tenant settings (a quoted version such as \"3\", or *)", h)
	}
	return v, nil
}

// getSettingsAudit lists the latest changes of a tenant's settings,
// newest first (limit, 1 to 100, default 20).
func (a *API) getSettingsAudit(w http.ResponseWriter, r *http.Request, _ authn.Identity) error {
	_, tenant, err := a.operatorTarget(r)
	if err != nil {
		return err
	}
	limit := 20
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			return bulkerr.New(bulkerr.Invalid, "limit %q must be a whole number from 1 to 100", l)
		}
		limit = n
	}
	changes, err := a.OperatorSettings.SettingsAudit(r.Context(), tenant, int32(limit))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bulkapi.NewSettingsChanges(tenant, changes))
	return nil
}

// getOwnSettings shows a tenant administrator their tenant's effective
// settings, read-only.
func (a *API) getOwnSettings(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	ts, err := a.Settings.TenantSettings(r.Context(), id.Tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bulkapi.NewEffectiveSettings(ts))
	return nil
}
