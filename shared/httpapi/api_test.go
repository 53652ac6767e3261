package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ccbulk/bulkops/shared/apiapp"
	"github.com/ccbulk/bulkops/shared/apigwlambda"
	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/blob"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/httpapi"
	"github.com/ccbulk/bulkops/shared/httpapi/openapitest"
	"github.com/ccbulk/bulkops/shared/ident"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// apiHarness serves the API on MinIO and DynamoDB Local behind the local
// API Gateway (stage, routes, JWT authorizer) and the Lambda adapter, as
// the dev server does and as AWS runs it.
type apiHarness struct {
	t       *testing.T
	gw      *localtest.API
	client  *http.Client // validates every answer against openapi.json
	api     *httpapi.API
	db      *dynamostore.Store
	files   *s3store.Store
	s3      *s3.Client
	bucket  string
	ids     *ident.Generator
	ddb     *dynamodb.Client
	control string
	st      *localtest.Stack
}

func newAPIHarness(t *testing.T) *apiHarness {
	st := localtest.Require(t)
	st.Provision(t)
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, time.Now)
	files := s3store.New(st.Clients.S3, st.Ref("DataBucket"))
	// As on AWS: API Gateway's JWT authorizer verifies the token, and the
	// function identifies callers by the claims it passed on.
	api := apiapp.Assemble(db, files, authn.Claims{}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	gw := localtest.ServeAPI(t, st, lambda.NewHandler(apigwlambda.Handler(api.Handler())))
	return &apiHarness{t: t, gw: gw, client: openapitest.Client(t, gw.URL), api: api, db: db, files: files, s3: st.Clients.S3, bucket: st.Ref("DataBucket"), ids: ident.NewGenerator(nil),
		ddb: st.Clients.DynamoDB, control: st.Ref("ControlTable"), st: st}
}

func (h *apiHarness) token(tenant string) string {
	return h.gw.Token(h.t, tenant, "admin@"+tenant+".example")
}

// call sends a request as tenant ("" for none) and decodes a JSON answer
// into out (if not nil); it returns the status and the raw body. Every
// answer is validated against openapi.json.
func (h *apiHarness) call(tenant, method, path string, body any, out any) (int, []byte) {
	h.t.Helper()
	status, _, raw := h.send(tenant, method, path, body, nil, out)
	return status, raw
}

// send is call with request headers, returning the answer's headers too.
func (h *apiHarness) send(tenant, method, path string, body any, header map[string]string, out any) (int, http.Header, []byte) {
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
	if tenant != "" {
		req.Header.Set("Authorization", "Bearer "+h.token(tenant))
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

// problem asserts an RFC 9457 problem with the status and code.
func problem(t *testing.T, status int, raw []byte, wantStatus int, wantCode string) httpapi.Problem {
	t.Helper()
	var p httpapi.Problem
	if status != wantStatus || json.Unmarshal(raw, &p) != nil || p.Code != wantCode || p.Status != wantStatus || p.Detail == "" {
		t.Fatalf("got %d %s; want %d problem %s", status, raw, wantStatus, wantCode)
	}
	return p
}

// addJob stores a finished job with an error report for tenant.
func (h *apiHarness) addJob(tenant, file string, status jobs.Status, typ jobs.Type) jobs.Job {
	h.t.Helper()
	id, err := h.ids.New(time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	now := time.Now().UTC()
	j := jobs.Job{Tenant: tenant, ID: id, Type: typ, ObjectType: "work-type", FileName: file, Status: status,
		SubmittedBy: "admin@" + tenant + ".example", SubmittedAt: now, StartedAt: &now, EndedAt: &now,
		Counts:   jobs.Counts{Total: 3, Processed: 3, Created: 2, Failed: 1},
		ErrorKey: fmt.Sprintf("results/%s/%s/errors.csv", tenant, id)}
	if err := h.db.CreateJob(context.Background(), j); err != nil {
		h.t.Fatal(err)
	}
	if err := h.files.Put(context.Background(), j.ErrorKey, "text/csv", []byte("Name,Type,Row,Error Code,Error Message\r\nsecret of "+tenant+"\r\n"), nil); err != nil {
		h.t.Fatal(err)
	}
	return j
}

func get(t *testing.T, link string) (int, string) {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAuthenticationRequired(t *testing.T) {
	h := newAPIHarness(t)
	if status, _ := h.call("", "GET", "/v1/health", nil, nil); status != 200 {
		t.Fatalf("health: %d", status)
	}
	// API Gateway's JWT authorizer refuses the call before the function
	// runs, in its own words.
	for _, path := range []string{"/v1/jobs", "/v1/object-types", "/v1/jobs/01JZZZZZZZZZZZZZZZZZZZZZZZ"} {
		status, raw := h.call("", "GET", path, nil, nil)
		if status != 401 || string(raw) != `{"message":"Unauthorized"}` {
			t.Fatalf("%s without a token: %d %s", path, status, raw)
		}
	}
	// So does its router for a route the template does not have.
	status, raw := h.call("acme", "GET", "/v1/nope", nil, nil)
	if status != 404 || string(raw) != `{"message":"Not Found"}` {
		t.Fatalf("unknown route: %d %s", status, raw)
	}
}

func TestObjectTypesAndTemplates(t *testing.T) {
	h := newAPIHarness(t)
	var list struct {
		ObjectTypes []struct {
			Slug    string
			Columns []struct{ Header string }
		}
	}
	if status, raw := h.call("acme", "GET", "/v1/object-types", nil, &list); status != 200 || len(list.ObjectTypes) < 17 {
		t.Fatalf("object types: %d %s", status, raw)
	}
	status, raw := h.call("acme", "GET", "/v1/object-types/Work%20Type/template?example=true", nil, nil)
	if status != 200 || !strings.HasPrefix(string(raw), "\uFEFFName,Description,Type\r\n") || strings.Count(string(raw), "\r\n") != 2 {
		t.Fatalf("template: %d %q", status, raw)
	}
	status, raw = h.call("acme", "GET", "/v1/object-types/widgets/template", nil, nil)
	p := problem(t, status, raw, 400, "INVALID_REQUEST")
	if !strings.Contains(p.Detail, "known types") {
		t.Fatalf("unknown type detail %q does not list the known types", p.Detail)
	}
}

// TestCreateImportIssuesAPinnedUpload: the form uploads to the tenant's own
// key with the job's metadata; the policy refuses another key, changed
// metadata and a file over the limit; a busy tenant gets 409 with the
// active job.
func TestCreateImportIssuesAPinnedUpload(t *testing.T) {
	h := newAPIHarness(t)
	var resp struct {
		JobID    string
		MaxBytes int64
		Upload   blob.Upload
	}
	status, raw := h.call("acme", "POST", "/v1/imports", map[string]any{"objectType": "work-type", "fileName": "codes.csv", "dryRun": true}, &resp)
	if status != 201 || resp.JobID == "" || resp.MaxBytes != 5<<20 {
		t.Fatalf("create import: %d %s", status, raw)
	}
	post := func(fields map[string]string, file []byte) int {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		fw, _ := mw.CreateFormFile("file", "codes.csv")
		fw.Write(file)
		mw.Close()
		r, err := http.Post(resp.Upload.URL, mw.FormDataContentType(), &body)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	csv := []byte("Name,Description,Type\nLunch,Break,IDLE_CODE\n")
	with := func(k, v string) map[string]string {
		f := map[string]string{}
		for a, b := range resp.Upload.Fields {
			f[a] = b
		}
		f[k] = v
		return f
	}
	if code := post(with("key", "imports/other/work-type/codes.csv"), csv); code < 400 {
		t.Fatalf("upload to another tenant's key: %d, want refused", code)
	}
	if code := post(with("x-amz-meta-submitted-by", "someone@else"), csv); code < 400 {
		t.Fatalf("upload with changed metadata: %d, want refused", code)
	}
	if code := post(resp.Upload.Fields, bytes.Repeat([]byte("x"), 5<<20+1)); code < 400 {
		t.Fatalf("upload over the limit: %d, want refused", code)
	}
	if code := post(resp.Upload.Fields, csv); code >= 300 {
		t.Fatalf("upload: %d", code)
	}
	info, err := h.files.Head(context.Background(), "imports/acme/work-type/codes.csv")
	if err != nil {
		t.Fatal(err)
	}
	if info.Metadata["job-id"] != resp.JobID || info.Metadata["submitted-by"] != "admin@acme.example" || info.Metadata["dry-run"] != "true" {
		t.Fatalf("uploaded metadata %v", info.Metadata)
	}
	// The API registered the job ID for this tenant and key only, so the
	// import accepts it from this upload (and from no other).
	if _, ok, err := h.db.RedeemUpload(context.Background(), "other", resp.JobID, "imports/other/work-type/codes.csv", "u"); err != nil || ok {
		t.Fatalf("the job ID redeemed for another tenant's key: %v %v", ok, err)
	}
	if g, ok, err := h.db.RedeemUpload(context.Background(), "acme", resp.JobID, "imports/acme/work-type/codes.csv", "u"); err != nil || !ok ||
		g.SubmittedBy != "admin@acme.example" || !g.DryRun {
		t.Fatalf("the issued upload is not registered: %+v %v %v", g, ok, err)
	}

	for _, tc := range []map[string]any{
		{"objectType": "work-type", "fileName": "../../other/x.csv"},
		{"objectType": "work-type", "fileName": "codes.xlsx"},
		{"objectType": "widgets", "fileName": "a.csv"},
		{"objectType": "work-type", "fileName": "a.csv", "tenant": "other"},
	} {
		status, raw := h.call("acme", "POST", "/v1/imports", tc, nil)
		problem(t, status, raw, 400, "INVALID_REQUEST")
	}

	l, err := h.db.AcquireLock(context.Background(), "acme", "01JBUSYBUSYBUSYBUSYBUSYBUS", time.Minute)
	if err != nil || !l.Acquired {
		t.Fatal(l, err)
	}
	status, raw = h.call("acme", "POST", "/v1/imports", map[string]any{"objectType": "work-type", "fileName": "b.csv"}, nil)
	if p := problem(t, status, raw, 409, "TENANT_BUSY"); p.ActiveJobID != "01JBUSYBUSYBUSYBUSYBUSYBUS" {
		t.Fatalf("busy problem names %q", p.ActiveJobID)
	}
	if status, _ := h.call("other", "POST", "/v1/imports", map[string]any{"objectType": "work-type", "fileName": "b.csv"}, nil); status != 201 {
		t.Fatalf("another tenant is not blocked: %d", status)
	}
}

// TestTenantIsolationAndLinks: another tenant's job is not found through
// any route; links are short-lived and cannot be bent to another key.
func TestTenantIsolationAndLinks(t *testing.T) {
	h := newAPIHarness(t)
	h.api.LinkTTL = 2 * time.Second
	a := h.addJob("acme", "a.csv", jobs.StatusCompletedWithErrs, jobs.TypeImport)
	b := h.addJob("globex", "b.csv", jobs.StatusCompletedWithErrs, jobs.TypeImport)

	status, raw := h.call("globex", "GET", "/v1/jobs/"+a.ID, nil, nil)
	problem(t, status, raw, 404, "NOT_FOUND")
	var list struct{ Jobs []jobs.Job }
	h.call("globex", "GET", "/v1/jobs?q="+a.ID, nil, &list)
	if len(list.Jobs) != 0 {
		t.Fatalf("globex sees %v", list.Jobs)
	}
	status, raw = h.call("globex", "GET", "/v1/jobs?cursor="+a.ID, nil, &list)
	if status != 200 || len(list.Jobs) != 0 {
		t.Fatalf("a cursor of acme's job lists %d %s", status, raw)
	}

	var view struct {
		ID    string
		Links struct{ Errors string }
	}
	if status, raw := h.call("acme", "GET", "/v1/jobs/"+a.ID, nil, &view); status != 200 || view.Links.Errors == "" {
		t.Fatalf("job: %d %s", status, raw)
	}
	if code, body := get(t, view.Links.Errors); code != 200 || !strings.Contains(body, "secret of acme") {
		t.Fatalf("link: %d %q", code, body)
	}
	bent, _ := url.Parse(view.Links.Errors)
	bent.Path = strings.Replace(bent.Path, "/acme/"+a.ID, "/globex/"+b.ID, 1)
	if code, body := get(t, bent.String()); code != 403 || strings.Contains(body, "secret of globex") {
		t.Fatalf("a link bent to another tenant's key: %d %q", code, body)
	}
	time.Sleep(3 * time.Second)
	if code, _ := get(t, view.Links.Errors); code != 403 {
		t.Fatalf("expired link: %d, want 403", code)
	}
}

func TestListJobsFiltersAndPages(t *testing.T) {
	h := newAPIHarness(t)
	var all []jobs.Job
	for i := range 23 {
		st := jobs.StatusCompleted
		if i%4 == 0 {
			st = jobs.StatusFailed
		}
		typ := jobs.TypeImport
		if i%5 == 0 {
			typ = jobs.TypeExport
		}
		all = append(all, h.addJob("acme", fmt.Sprintf("file-%02d.csv", i), st, typ))
	}
	h.addJob("globex", "file-99.csv", jobs.StatusCompleted, jobs.TypeImport)

	page := func(query string) (ids []string, next string) {
		var out struct {
			Jobs       []jobs.Job
			NextCursor string
		}
		if status, raw := h.call("acme", "GET", "/v1/jobs?"+query, nil, &out); status != 200 {
			t.Fatalf("%s: %d %s", query, status, raw)
		}
		for _, j := range out.Jobs {
			ids = append(ids, j.FileName)
		}
		return ids, out.NextCursor
	}
	var got []string
	cursor := ""
	for n := 0; ; n++ {
		ids, next := page("limit=10&cursor=" + cursor)
		got = append(got, ids...)
		if next == "" {
			break
		}
		if n > 5 {
			t.Fatal("pagination does not end")
		}
		cursor = next
	}
	if len(got) != 23 || got[0] != "file-22.csv" || got[22] != "file-00.csv" {
		t.Fatalf("pages: %v", got)
	}
	tests := []struct {
		query string
		want  int
	}{
		{"status=Failed", 6},
		{"status=failed&type=export", 2}, // i%4 == 0 and i%5 == 0: 0 and 20
		{"type=export", 5},
		{"q=FILE-1", 10},
		{"q=" + all[3].ID, 1},
		{"q=admin@acme", 23},
		{"objectType=Work%20Type", 23},
	}
	for _, tt := range tests {
		ids, _ := page(tt.query + "&limit=100")
		if len(ids) != tt.want {
			t.Errorf("%s: %d jobs %v, want %d", tt.query, len(ids), ids, tt.want)
		}
	}
	for _, q := range []string{"limit=0", "limit=101", "status=Done", "type=delete", "cursor=../x"} {
		status, raw := h.call("acme", "GET", "/v1/jobs?"+q, nil, nil)
		problem(t, status, raw, 400, "INVALID_REQUEST")
	}
}

// recordExports stands in for the asynchronous Lambda invoke (the CLI's
// end-to-end test runs the real one) and records what was started.
type recordExports struct{ got []exportflow.Request }

func (r *recordExports) StartExport(_ context.Context, req exportflow.Request) error {
	r.got = append(r.got, req)
	return nil
}

func TestCreateExport(t *testing.T) {
	h := newAPIHarness(t)
	rec := &recordExports{}
	h.api.Exports = rec
	var job struct {
		ID, FileName, Status, Type, ObjectType string
	}
	status, raw := h.call("acme", "POST", "/v1/exports", map[string]any{"objectTypes": []string{"Queue", "site", "queue"}, "prefix": "nightly_"}, &job)
	if status != 202 || job.Status != "New" || job.Type != "export" || job.ObjectType != "queue,site" || !strings.HasPrefix(job.FileName, "nightly_Export_") {
		t.Fatalf("create export: %d %s", status, raw)
	}
	if len(rec.got) != 1 || rec.got[0].Tenant != "acme" || rec.got[0].JobID != job.ID {
		t.Fatalf("started %+v", rec.got)
	}
	// The export holds the tenant's lock: imports and exports wait.
	status, raw = h.call("acme", "POST", "/v1/exports", map[string]any{"objectTypes": []string{"site"}}, nil)
	if p := problem(t, status, raw, 409, "TENANT_BUSY"); p.ActiveJobID != job.ID {
		t.Fatalf("busy names %q", p.ActiveJobID)
	}
	status, raw = h.call("acme", "POST", "/v1/imports", map[string]any{"objectType": "site", "fileName": "s.csv"}, nil)
	problem(t, status, raw, 409, "TENANT_BUSY")
	for _, body := range []map[string]any{
		{"objectTypes": []string{}},
		{"objectTypes": []string{"widgets"}},
		{"objectTypes": []string{"site"}, "prefix": "way-too-long-prefix-123"},
		{"objectTypes": []string{"site"}, "tenant": "other"},
	} {
		status, raw := h.call("globex", "POST", "/v1/exports", body, nil)
		problem(t, status, raw, 400, "INVALID_REQUEST")
	}
	if len(rec.got) != 1 {
		t.Fatalf("invalid requests started exports: %+v", rec.got)
	}
}
