package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ccbulk/bulkops/shared/apiapp"
	"github.com/ccbulk/bulkops/shared/apigwlambda"
	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/httpapi/openapitest"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// opLog keeps the API's log; its goroutines may write to it at once.
type opLog struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (l *opLog) Write(p []byte) (int, error) {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.buf.Write(p)
}

func (l *opLog) String() string {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.buf.String()
}

// newOperatorHarness is newAPIHarness with the API's log kept.
func newOperatorHarness(t *testing.T) (*apiHarness, *opLog) {
	st := localtest.Require(t)
	st.Provision(t)
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, time.Now)
	files := s3store.New(st.Clients.S3, st.Ref("DataBucket"))
	logs := &opLog{mu: make(chan struct{}, 1)}
	api := apiapp.Assemble(db, files, authn.Claims{}, slog.New(slog.NewJSONHandler(logs, nil)))
	gw := localtest.ServeAPI(t, st, lambda.NewHandler(apigwlambda.Handler(api.Handler())))
	return &apiHarness{t: t, gw: gw, client: openapitest.Client(t, gw.URL), api: api, db: db, files: files, s3: st.Clients.S3, bucket: st.Ref("DataBucket"),
		ddb: st.Clients.DynamoDB, control: st.Ref("ControlTable"), st: st}, logs
}

// sendAs sends a request with a bearer token ("" for none).
func (h *apiHarness) sendAs(token, method, path string, body any, header map[string]string, out any) (int, http.Header, []byte) {
	h.t.Helper()
	var rd io.Reader
	if raw, ok := body.([]byte); ok {
		rd = bytes.NewReader(raw)
	} else if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.gw.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, resp.Header, raw
}

// TestOperatorSettings: through API Gateway's play, only a token with the
// operator scope reaches the operator routes (a tenant administrator's is
// 403); the operator sets the settings of the tenant the path names, with
// If-Match; limits over the maximum are 400 naming field, value and
// maximum; every change is audited (control table and log line); the
// tenant administrator reads the effective settings.
func TestOperatorSettings(t *testing.T) {
	h, logs := newOperatorHarness(t)
	ctx := context.Background()
	op := h.gw.OperatorToken(t, "ops@provider.example", "")
	admin := h.token("acme")
	const path = "/v1/operator/tenants/acme/settings"

	// Who may reach the routes.
	for _, c := range []struct {
		name, token, method string
		want                int
	}{
		{"no token", "", "GET", 401},
		{"tenant admin GET", admin, "GET", 403},
		{"tenant admin PUT", admin, "PUT", 403},
		{"tenant admin audit", admin, "GET audit", 403},
		{"operator scope misspelt", h.gw.OperatorToken(t, "ops@provider.example", "bulkops/operators"), "GET", 403},
	} {
		method, p := c.method, path
		if method == "GET audit" {
			method, p = "GET", path+"/audit"
		}
		status, _, raw := h.sendAs(c.token, method, p, bulkapi.SettingsBody{LargeFiles: true}, map[string]string{"If-Match": "*"}, nil)
		if status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, status, raw, c.want)
		}
	}
	if rec, err := h.db.SettingsRecord(ctx, "acme"); err != nil || rec.Version != 0 || rec.Settings.LargeFiles {
		t.Fatalf("a refused PUT changed the settings: %+v %v", rec, err)
	}

	// The second check: the handler refuses claims without the scope even
	// if a gateway let them through.
	req := httptest.NewRequest("GET", path, nil)
	req = req.WithContext(authn.WithClaims(req.Context(), map[string]string{"tenant": "acme", "email": "admin@acme.example", "scope": "openid email"}))
	rr := httptest.NewRecorder()
	h.api.Handler().ServeHTTP(rr, req)
	problem(t, rr.Code, rr.Body.Bytes(), 403, "FORBIDDEN")

	// A tenant without settings: version 0, the defaults.
	var got bulkapi.TenantSettings
	status, hdr, raw := h.sendAs(op, "GET", path, nil, nil, &got)
	if status != 200 || hdr.Get("ETag") != `"0"` || got.Tenant != "acme" || got.Version != 0 || got.Effective.MaxRows != 5000 ||
		strings.Join(got.Effective.DeliveryTargets, ",") != "s3link" {
		t.Fatalf("GET: %d %s %s", status, hdr.Get("ETag"), raw)
	}

	// If-Match is required; a body naming a tenant is refused (the path
	// names it).
	status, _, raw = h.sendAs(op, "PUT", path, bulkapi.SettingsBody{LargeFiles: true}, nil, nil)
	problem(t, status, raw, 400, "INVALID_REQUEST")
	status, _, raw = h.sendAs(op, "PUT", path, []byte(`{"tenant":"other","largeFiles":true}`), map[string]string{"If-Match": `"0"`}, nil)
	if p := problem(t, status, raw, 400, "INVALID_REQUEST"); len(p.Errors) != 1 || p.Errors[0].Pointer != "/tenant" {
		t.Fatalf("body tenant: %s", raw)
	}

	// Limits over the maximum: the field, the value, the maximum.
	for _, c := range []struct {
		body        bulkapi.SettingsBody
		ptr, v, max string
	}{
		{bulkapi.SettingsBody{LargeFiles: true, MaxRows: 2_000_000}, "/maxRows", "2000000", "1000000"},
		{bulkapi.SettingsBody{MaxRows: 6000}, "/maxRows", "6000", "5000"},
		{bulkapi.SettingsBody{LargeFiles: true, MaxBytes: 600 << 20}, "/maxBytes", "629145600", "524288000"},
		{bulkapi.SettingsBody{DeliveryTargets: []string{"ftp"}}, "/deliveryTargets/0", `"ftp"`, "s3bucket"},
	} {
		status, _, raw := h.sendAs(op, "PUT", path, c.body, map[string]string{"If-Match": `"0"`}, nil)
		p := problem(t, status, raw, 400, "INVALID_REQUEST")
		if len(p.Errors) != 1 || p.Errors[0].Pointer != c.ptr || !strings.Contains(p.Detail, c.v) || !strings.Contains(p.Detail, c.max) {
			t.Errorf("%+v: %s, want %s naming %s and %s", c.body, raw, c.ptr, c.v, c.max)
		}
	}

	// The change, then a stale one.
	set := bulkapi.SettingsBody{LargeFiles: true, MaxRows: 20000, DeliveryTargets: []string{"sftp"}}
	status, hdr, raw = h.sendAs(op, "PUT", path, set, map[string]string{"If-Match": `"0"`}, &got)
	if status != 200 || hdr.Get("ETag") != `"1"` || got.Version != 1 || !got.LargeFiles || got.Effective.MaxRows != 20000 ||
		got.Effective.MaxBytes != 500<<20 || got.UpdatedBy != "ops@provider.example" || strings.Join(got.Effective.DeliveryTargets, ",") != "s3link,sftp" {
		t.Fatalf("PUT: %d %s %s", status, hdr.Get("ETag"), raw)
	}
	status, _, raw = h.sendAs(op, "PUT", path, bulkapi.SettingsBody{}, map[string]string{"If-Match": `"0"`}, nil)
	problem(t, status, raw, 412, "PRECONDITION_FAILED")

	// Only the path's tenant changed; each admin sees its own, read-only.
	var eff bulkapi.EffectiveSettings
	if status, raw := h.call("acme", "GET", "/v1/settings", nil, &eff); status != 200 || !eff.LargeFiles || eff.MaxRows != 20000 ||
		strings.Join(eff.DeliveryTargets, ",") != "s3link,sftp" {
		t.Fatalf("acme's settings: %d %s", status, raw)
	}
	if status, raw := h.call("other", "GET", "/v1/settings", nil, &eff); status != 200 || eff.LargeFiles || eff.MaxRows != 5000 ||
		strings.Join(eff.DeliveryTargets, ",") != "s3link" {
		t.Fatalf("other's settings: %d %s", status, raw)
	}
	if status, _, raw := h.sendAs(admin, "PUT", "/v1/settings", bulkapi.SettingsBody{LargeFiles: true}, nil, nil); status != 404 && status != 405 {
		t.Fatalf("a tenant admin PUT /v1/settings: %d %s", status, raw)
	}
	if status, _, raw := h.sendAs(op, "GET", "/v1/operator/tenants/Not_A_Tenant/settings", nil, nil, nil); status != 400 {
		t.Fatalf("bad path tenant: %d %s", status, raw)
	}

	// The audit: in the control table and through the API, and a log line.
	changes, err := h.db.SettingsAudit(ctx, "acme", 10)
	if err != nil || len(changes) != 1 {
		t.Fatalf("audit: %+v %v", changes, err)
	}
	c := changes[0]
	if c.Version != 1 || c.By != "ops@provider.example" || c.At.IsZero() || c.Before.LargeFiles || !c.After.LargeFiles || c.After.MaxRows != 20000 {
		t.Fatalf("audit record: %+v", c)
	}
	var audit bulkapi.SettingsChanges
	if status, _, raw := h.sendAs(op, "GET", path+"/audit", nil, nil, &audit); status != 200 || len(audit.Changes) != 1 || audit.Changes[0].By != "ops@provider.example" {
		t.Fatalf("GET audit: %d %s", status, raw)
	}
	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"tenant settings changed"`) {
			_ = json.Unmarshal([]byte(l), &line)
		}
	}
	if line["tenant"] != "acme" || line["operator"] != "ops@provider.example" || !strings.Contains(line["before"].(string), `"largeFiles":false`) ||
		!strings.Contains(line["after"].(string), `"maxRows":20000`) {
		t.Fatalf("log line: %v\n%s", line, logs.String())
	}

	// If-Match: * replaces whatever is there; the audit grows.
	if status, hdr, raw := h.sendAs(op, "PUT", path, bulkapi.SettingsBody{}, map[string]string{"If-Match": "*"}, &got); status != 200 || hdr.Get("ETag") != `"2"` || got.LargeFiles {
		t.Fatalf("PUT *: %d %s", status, raw)
	}
	if changes, err := h.db.SettingsAudit(ctx, "acme", 10); err != nil || len(changes) != 2 || changes[0].Version != 2 || !changes[0].Before.LargeFiles {
		t.Fatalf("audit after the second change: %+v %v", changes, err)
	}
}
