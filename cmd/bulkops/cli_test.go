package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccbulk/bulkops/shared/apiclient"
)

// fake is a scripted API: routes answer by "METHOD /path"; it records
// every request.
type fake struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	got    []*http.Request
	bodies []string
}

func newFake(t *testing.T) *fake {
	f := &fake{t: t, routes: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, r)
		f.bodies = append(f.bodies, string(body))
		h, ok := f.routes[r.Method+" "+r.URL.Path]
		f.mu.Unlock()
		if !ok {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(404)
			fmt.Fprintf(w, `{"status":404,"code":"NOT_FOUND","detail":"no route %s %s","instance":"urn:x"}`, r.Method, r.URL.Path)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) on(route string, status int, body string) {
	f.routes[route] = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func (f *fake) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.got...)
}

// cliRun runs the CLI with env as its whole environment.
type cliRun struct {
	out, info string
	code      int
	err       error
}

func runCLI(t *testing.T, ctx context.Context, env map[string]string, tty bool, args ...string) cliRun {
	t.Helper()
	var out, info bytes.Buffer
	a := newApp(&out, &info, func(k string) string { return env[k] })
	a.stderrTTY, a.stdoutTTY = tty, tty
	err := a.execute(ctx, args)
	return cliRun{out: out.String(), info: info.String(), code: exitCode(err), err: err}
}

func jobDoc(status string, extra string) string {
	return fmt.Sprintf(`{"id":"01JOBJOBJOBJOBJOBJOBJOBJOB","type":"import","objectType":"queue","fileName":"q.csv","status":%q,
		"submittedBy":"ops@acme.example","submittedAt":"2026-01-01T00:00:00Z","counts":{"total":4,"processed":4,"created":2,"updated":0,"unchanged":0,"failed":2},
		"percent":100,"message":"m"%s}`, status, extra)
}

// TestExitCodes: every outcome a script branches on has its own code.
func TestExitCodes(t *testing.T) {
	f := newFake(t)
	env := map[string]string{"BULKOPS_API_URL": f.srv.URL, "BULKOPS_TOKEN": "tok"}
	const id = "01JOBJOBJOBJOBJOBJOBJOBJOB"
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAPI := "http://" + closed.Addr().String()
	closed.Close()
	tests := []struct {
		name   string
		status int
		body   string
		env    map[string]string
		args   []string
		want   int
		says   string
	}{
		{"completed", 200, jobDoc("Completed", ""), env, []string{"job", id, "--wait"}, exitOK, ""},
		{"completed with errors", 200, jobDoc("Completed with errors", ""), env, []string{"job", id, "--wait"}, exitCompletedWithErrors, "2 of 4 rows rejected"},
		{"failed", 200, jobDoc("Failed", ""), env, []string{"job", id, "--wait"}, exitFailed, "Failed: m"},
		{"cancelled status", 200, jobDoc("Cancelled", `,"cancelledBy":"boss@acme.example"`), env, []string{"job", id, "--wait"}, exitCancelled, "cancelled by boss@acme.example"},
		{"cancelled as failed with a reason", 200, jobDoc("Failed", `,"cancelledBy":"boss@acme.example"`), env, []string{"job", id, "--wait"}, exitCancelled, "cancelled"},
		{"job without --wait", 200, jobDoc("Failed", ""), env, []string{"job", id}, exitOK, ""},
		{"job --exit-status", 200, jobDoc("Failed", ""), env, []string{"job", id, "--exit-status"}, exitFailed, ""},
		{"still running", 200, jobDoc("In Progress", ""), env, []string{"job", id, "--wait", "--timeout", "1s"}, exitTimeout, "still running"},
		{"unknown flag", 200, "", env, []string{"job", id, "--frobnicate"}, exitUsage, "unknown flag"},
		{"missing argument", 200, "", env, []string{"job"}, exitUsage, "one job ID"},
		{"unknown command", 200, "", env, []string{"frobnicate"}, exitUsage, "unknown command"},
		{"bad output", 200, "", env, []string{"job", id, "-o", "yaml"}, exitUsage, "text or json"},
		{"no token", 200, "", map[string]string{"BULKOPS_API_URL": f.srv.URL}, []string{"job", id}, exitAuth, "no token"},
		{"token refused", 401, `{"status":401,"code":"UNAUTHENTICATED","detail":"the token has expired","instance":"urn:x"}`, env, []string{"job", id}, exitAuth, "expired"},
		{"not found", 404, `{"status":404,"code":"NOT_FOUND","detail":"job not found","instance":"urn:x"}`, env, []string{"job", id}, exitGeneric, "job not found"},
		{"unreachable", 200, "", map[string]string{"BULKOPS_API_URL": deadAPI, "BULKOPS_TOKEN": "t"}, []string{"job", id}, exitUnreachable, "cannot reach"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.on("GET /v1/jobs/"+id, tt.status, tt.body)
			r := runCLI(t, context.Background(), tt.env, false, tt.args...)
			if r.code != tt.want || !strings.Contains(describeErr(r.err), tt.says) {
				t.Fatalf("exit %d (%v), want %d saying %q\n%s\n%s", r.code, r.err, tt.want, tt.says, r.out, r.info)
			}
		})
	}

	// A busy tenant: 7, with the active job and when to retry.
	f.routes["POST /v1/exports"] = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(409)
		io.WriteString(w, `{"status":409,"code":"TENANT_BUSY","detail":"another bulk operation is in progress","activeJobId":"01JACTIVEACTIVEACTIVEACTIV","instance":"urn:x"}`)
	}
	r := runCLI(t, context.Background(), env, false, "export", "queue")
	if msg := describeErr(r.err); r.code != exitBusy || !strings.Contains(msg, "01JACTIVEACTIVEACTIVEACTIV") || !strings.Contains(msg, "retry in 30s") {
		t.Fatalf("busy: exit %d %q", r.code, msg)
	}
}

func describeErr(err error) string {
	if err == nil {
		return ""
	}
	return describe(err)
}

// TestHelpEverywhere: --help on every command and subcommand prints its
// help and exits 0; --version and version print the version; `bulkops
// help` lists the exit codes.
func TestHelpEverywhere(t *testing.T) {
	a := newApp(io.Discard, io.Discard, func(string) string { return "" })
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, s := range c.Commands() {
			walk(s, append(append([]string(nil), path...), s.Name()))
		}
	}
	walk(a.rootCommand(), nil)
	if len(paths) < 20 {
		t.Fatalf("only %d commands: %v", len(paths), paths)
	}
	for _, p := range paths {
		r := runCLI(t, context.Background(), nil, false, append(p, "--help")...)
		if r.code != 0 || !strings.Contains(r.out, "Usage:") {
			t.Errorf("%v --help: exit %d %v\n%s", p, r.code, r.err, r.out)
		}
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if r := runCLI(t, context.Background(), nil, false, args...); r.code != 0 || !strings.HasPrefix(r.out, "bulkops ") {
			t.Errorf("%v: %d %q", args, r.code, r.out)
		}
	}
	r := runCLI(t, context.Background(), nil, false, "help")
	for _, want := range []string{"Exit codes:", "3    the job ended Completed with errors", "7    the tenant is busy", "8    the API or storage could not be reached", "config.toml"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("bulkops help lacks %q", want)
		}
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := runCLI(t, context.Background(), nil, false, "completion", shell)
		if r.code != 0 || !strings.Contains(r.out, "bulkops") || len(r.out) < 1000 {
			t.Errorf("completion %s: %d %.100q", shell, r.code, r.out)
		}
	}
	// Completion of object types works offline.
	r = runCLI(t, context.Background(), nil, false, "__complete", "types", "que")
	if !strings.Contains(r.out, "queue") {
		t.Errorf("type completion: %q", r.out)
	}
}

// TestJSONOutput: -o json prints the API's document as it came (fields the
// CLI does not know included); lists keep their cursor; --all merges every
// page into one document.
func TestJSONOutput(t *testing.T) {
	f := newFake(t)
	env := map[string]string{"BULKOPS_API_URL": f.srv.URL, "BULKOPS_TOKEN": "tok"}
	const id = "01JOBJOBJOBJOBJOBJOBJOBJOB"
	f.on("GET /v1/jobs/"+id, 200, jobDoc("Completed", `,"futureField":{"x":1}`))
	r := runCLI(t, context.Background(), env, false, "job", id, "-o", "json")
	var got, want map[string]any
	_ = json.Unmarshal([]byte(jobDoc("Completed", `,"futureField":{"x":1}`)), &want)
	if err := json.Unmarshal([]byte(r.out), &got); err != nil || r.code != 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("job -o json: %v %d\n%s", err, r.code, r.out)
	}
	f.routes["GET /v1/jobs"] = func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch req.URL.Query().Get("cursor") {
		case "":
			io.WriteString(w, `{"jobs":[`+jobDoc("Completed", `,"n":1`)+`],"nextCursor":"01JNEXTNEXTNEXTNEXTNEXTNEX"}`)
		default:
			io.WriteString(w, `{"jobs":[`+jobDoc("Failed", `,"n":2`)+`]}`)
		}
	}
	r = runCLI(t, context.Background(), env, false, "jobs", "-o", "json")
	var page struct {
		Jobs       []map[string]any
		NextCursor string
	}
	if json.Unmarshal([]byte(r.out), &page) != nil || len(page.Jobs) != 1 || page.NextCursor != "01JNEXTNEXTNEXTNEXTNEXTNEX" {
		t.Fatalf("jobs -o json: %s", r.out)
	}
	r = runCLI(t, context.Background(), env, false, "jobs", "--all", "-o", "json")
	page.Jobs, page.NextCursor = nil, ""
	if json.Unmarshal([]byte(r.out), &page) != nil || len(page.Jobs) != 2 || page.Jobs[1]["n"] != 2.0 || page.NextCursor != "" {
		t.Fatalf("jobs --all -o json: %s", r.out)
	}
	r = runCLI(t, context.Background(), env, false, "jobs")
	if !strings.Contains(r.out, "JOB") || strings.Count(r.out, id) != 1 || !strings.Contains(r.info, "bulkops jobs --cursor 01JNEXTNEXTNEXTNEXTNEXTNEX") {
		t.Fatalf("jobs: %s\n%s", r.out, r.info)
	}
	r = runCLI(t, context.Background(), env, false, "jobs", "--all")
	if strings.Count(r.out, id) != 2 || strings.Count(r.out, "SUBMITTED BY") != 1 {
		t.Fatalf("jobs --all: %s", r.out)
	}
	if r := runCLI(t, context.Background(), env, false, "jobs", "--cursor", "01JNEXTNEXTNEXTNEXTNEXTNEX"); r.code != 0 || !strings.Contains(r.out, "Failed") {
		t.Fatalf("jobs --cursor: %d %s", r.code, r.out)
	}
}

// TestProgressAndColour: progress lines only on a terminal; colour only
// on a terminal and never with NO_COLOR.
func TestProgressAndColour(t *testing.T) {
	f := newFake(t)
	const id = "01JOBJOBJOBJOBJOBJOBJOBJOB"
	f.on("GET /v1/jobs/"+id, 200, jobDoc("Completed", ""))
	env := map[string]string{"BULKOPS_API_URL": f.srv.URL, "BULKOPS_TOKEN": "tok"}
	plain := runCLI(t, context.Background(), env, false, "job", id, "--wait")
	if strings.ContainsAny(plain.info, "\r\x1b") || strings.Contains(plain.out, "\x1b") {
		t.Fatalf("not a terminal, yet progress or colour: %q %q", plain.info, plain.out)
	}
	tty := runCLI(t, context.Background(), env, true, "job", id, "--wait")
	if !strings.Contains(tty.info, "\r") || !strings.Contains(tty.info, "100%") || !strings.Contains(tty.out, "\x1b[32mCompleted") {
		t.Fatalf("terminal: no progress or colour: %q %q", tty.info, tty.out)
	}
	env["NO_COLOR"] = "1"
	if r := runCLI(t, context.Background(), env, true, "job", id, "--wait"); strings.Contains(r.out, "\x1b") {
		t.Fatalf("NO_COLOR: %q", r.out)
	}
	delete(env, "NO_COLOR")
	if r := runCLI(t, context.Background(), env, true, "job", id, "--wait", "--no-color"); strings.Contains(r.out, "\x1b") {
		t.Fatalf("--no-color: %q", r.out)
	}
}

// TestProfiles: the API and token come from flags, the chosen profile,
// the environment, the file's default profile, in that order; a token
// comes from a variable or a command, never from the file.
func TestProfiles(t *testing.T) {
	prod, staging := newFake(t), newFake(t)
	const id = "01JOBJOBJOBJOBJOBJOBJOBJOB"
	for _, f := range []*fake{prod, staging} {
		f.on("GET /v1/jobs/"+id, 200, jobDoc("Completed", ""))
	}
	dir := t.TempDir()
	write := func(body string) {
		if err := os.MkdirAll(filepath.Join(dir, "bulkops"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "bulkops", "config.toml"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf(`profile = "staging"
[profiles.prod]
api = %q
token_command = "printf 'from-command\n'"
[profiles.staging]
api = %q
token_env = "STAGING_TOKEN"
`, prod.srv.URL, staging.srv.URL))
	lastAuth := func(f *fake) string {
		rs := f.requests()
		if len(rs) == 0 {
			return ""
		}
		return rs[len(rs)-1].Header.Get("Authorization")
	}
	env := map[string]string{"XDG_CONFIG_HOME": dir, "STAGING_TOKEN": "from-env"}
	if r := runCLI(t, context.Background(), env, false, "job", id); r.code != 0 || lastAuth(staging) != "Bearer from-env" {
		t.Fatalf("default profile: %d %v %q", r.code, r.err, lastAuth(staging))
	}
	if r := runCLI(t, context.Background(), env, false, "job", id, "--profile", "prod"); r.code != 0 || lastAuth(prod) != "Bearer from-command" {
		t.Fatalf("--profile prod: %d %v %q", r.code, r.err, lastAuth(prod))
	}
	env["BULKOPS_PROFILE"] = "prod"
	env["BULKOPS_API_URL"] = staging.srv.URL // a chosen profile wins over the environment
	if r := runCLI(t, context.Background(), env, false, "job", id, "--token", "flag"); r.code != 0 || lastAuth(prod) != "Bearer flag" {
		t.Fatalf("BULKOPS_PROFILE with --token: %d %v %q", r.code, r.err, lastAuth(prod))
	}
	delete(env, "BULKOPS_PROFILE")
	env["BULKOPS_TOKEN"] = "env-token" // the environment wins over the default profile
	if r := runCLI(t, context.Background(), env, false, "job", id); r.code != 0 || lastAuth(staging) != "Bearer env-token" {
		t.Fatalf("environment over the default profile: %d %v %q", r.code, r.err, lastAuth(staging))
	}
	// BULKOPS_API is an alias of BULKOPS_API_URL.
	if r := runCLI(t, context.Background(), map[string]string{"BULKOPS_API": prod.srv.URL, "BULKOPS_TOKEN": "x"}, false, "job", id); r.code != 0 || lastAuth(prod) != "Bearer x" {
		t.Fatalf("BULKOPS_API: %d %v", r.code, r.err)
	}
	if r := runCLI(t, context.Background(), env, false, "job", id, "--profile", "nope"); r.code != exitUsage || !strings.Contains(r.err.Error(), "prod, staging") {
		t.Fatalf("unknown profile: %d %v", r.code, r.err)
	}
	write("[profiles.prod]\napi = \"x\"\ntoken = \"secret\"\n")
	if r := runCLI(t, context.Background(), env, false, "job", id, "--profile", "prod"); r.code != exitUsage || !strings.Contains(r.err.Error(), "not kept in files") {
		t.Fatalf("token in the file: %d %v", r.code, r.err)
	}
	write("[profiles.prod]\napi = \"" + prod.srv.URL + "\"\ntoken_command = \"echo oops >&2; exit 3\"\n")
	if r := runCLI(t, context.Background(), map[string]string{"XDG_CONFIG_HOME": dir}, false, "job", id, "--profile", "prod"); r.code != exitAuth || !strings.Contains(r.err.Error(), "oops") {
		t.Fatalf("failing token_command: %d %v", r.code, r.err)
	}
	// The default API is the local stage on BULKOPS_API_PORT.
	a := newApp(io.Discard, io.Discard, func(k string) string { return map[string]string{"BULKOPS_API_PORT": "3999", "HOME": t.TempDir()}[k] })
	if st, err := a.resolve(); err != nil || st.api != "http://127.0.0.1:3999/dev" {
		t.Fatalf("default API: %+v %v", st, err)
	}
}

// TestRetriesKeepTheIdempotencyKey: a POST that got 503 is sent again
// after Retry-After with the same Idempotency-Key.
func TestRetriesKeepTheIdempotencyKey(t *testing.T) {
	f := newFake(t)
	calls := 0
	f.routes["POST /v1/exports"] = func(w http.ResponseWriter, _ *http.Request) {
		calls++
		if calls == 1 {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(503)
			io.WriteString(w, `{"status":503,"code":"TRY_AGAIN","detail":"the database is busy","instance":"urn:x"}`)
			return
		}
		w.WriteHeader(202)
		io.WriteString(w, jobDoc("New", ""))
	}
	r := runCLI(t, context.Background(), map[string]string{"BULKOPS_API_URL": f.srv.URL, "BULKOPS_TOKEN": "t"}, false, "export", "queue", "--fields", "Name", "--filter", "Name startsWith EU")
	reqs := f.requests()
	if r.code != 0 || len(reqs) != 2 {
		t.Fatalf("export: %d %v, %d requests", r.code, r.err, len(reqs))
	}
	k1, k2 := reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key")
	if k1 == "" || k1 != k2 {
		t.Fatalf("keys %q %q", k1, k2)
	}
	var body map[string]any
	_ = json.Unmarshal([]byte(f.bodies[1]), &body)
	if fmt.Sprint(body["options"]) != "map[fields:[Name] filters:[map[field:Name op:startsWith value:EU]]]" {
		t.Fatalf("export options sent: %v", body["options"])
	}
	// Another command is another request: another key.
	runCLI(t, context.Background(), map[string]string{"BULKOPS_API_URL": f.srv.URL, "BULKOPS_TOKEN": "t"}, false, "export", "queue")
	if reqs = f.requests(); reqs[2].Header.Get("Idempotency-Key") == k1 {
		t.Fatal("a new command reused the key")
	}
}

// TestFileChecks: a file that cannot be imported is refused before
// anything is sent, saying why.
func TestFileChecks(t *testing.T) {
	f := newFake(t)
	env := map[string]string{"BULKOPS_API_URL": f.srv.URL, "BULKOPS_TOKEN": "t"}
	dir := t.TempDir()
	file := func(name string, body []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		path, typ, says string
	}{
		{file("empty.csv", nil), "queue", "is empty"},
		{file("book.csv", append([]byte("PK\x03\x04\x14\x00"), []byte("[Content_Types].xml xl/workbook.xml")...)), "queue", "Excel workbook (.xlsx)"},
		{file("old.csv", []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0}), "queue", "old Excel workbook"},
		{file("u16.csv", []byte{0xFF, 0xFE, 'N', 0, 'a', 0}), "queue", "UTF-16"},
		{file("bin.csv", []byte("Name\x00\x01\x02")), "queue", "binary"},
		{file("doc.csv", []byte("%PDF-1.7")), "queue", "PDF"},
		{file("a.zip", []byte("PK\x03\x04rest")), "queue", "ZIP archive, not a CSV"},
		{file("p.zip", []byte("Name\nx\n")), "audio-file", "not a ZIP archive"},
		{filepath.Join(dir, "missing.csv"), "queue", "cannot read"},
		{dir, "queue", "not a file"},
	}
	for _, tt := range tests {
		r := runCLI(t, context.Background(), env, false, "import", tt.path, "--type", tt.typ)
		if r.code != exitGeneric || !strings.Contains(r.err.Error(), tt.says) {
			t.Errorf("%s: %d %v, want it to say %q", filepath.Base(tt.path), r.code, r.err, tt.says)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("%d requests for files that cannot be imported", n)
	}
}

// TestUploadRefusalsAreSentences: a storage refusal (S3's XML error) is
// said as a sentence, the XML never shown; a file over the tenant's limit
// is refused before it is sent; Ctrl-C stops an upload with code 130.
func TestUploadRefusalsAreSentences(t *testing.T) {
	f := newFake(t)
	env := map[string]string{"BULKOPS_API_URL": f.srv.URL, "BULKOPS_TOKEN": "t"}
	maxBytes := 1 << 20
	f.routes["POST /v1/imports"] = func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"jobId":"01JOBJOBJOBJOBJOBJOBJOBJOB","fileName":"q.csv","maxBytes":%d,"upload":{"url":%q,"fields":{"key":"imports/acme/queue/q.csv","policy":"p"}}}`,
			maxBytes, f.srv.URL+"/bucket")
	}
	var refusal string
	var sawLength int64
	block := make(chan struct{})
	f.routes["POST /bucket"] = func(w http.ResponseWriter, r *http.Request) {
		sawLength = r.ContentLength
		if refusal == "block" {
			<-block
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(400)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>Your proposed upload exceeds the maximum allowed size</Message><RequestId>X</RequestId></Error>`, refusal)
	}
	csv := filepath.Join(t.TempDir(), "q.csv")
	if err := os.WriteFile(csv, []byte("Name\nSales\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for code, says := range map[string]string{
		"EntityTooLarge": "larger than the limit of 1.0 MB",
		"AccessDenied":   "not (or no longer) valid",
		"SlowDown":       "try again in a minute",
		"Weird":          "(Weird, HTTP 400)",
	} {
		refusal = code
		r := runCLI(t, context.Background(), env, false, "import", csv, "--type", "queue")
		msg := describeErr(r.err)
		if r.code != exitGeneric || !strings.Contains(msg, says) || strings.Contains(msg, "<") || strings.Contains(msg, "RequestId") {
			t.Errorf("%s: %d %q, want a sentence saying %q", code, r.code, msg, says)
		}
	}
	if sawLength <= int64(len("Name\nSales\n")) {
		t.Errorf("the upload was not sent with its length: %d", sawLength)
	}
	big := filepath.Join(t.TempDir(), "big.csv")
	if err := os.WriteFile(big, bytes.Repeat([]byte("Name\n"), maxBytes/5+1), 0o644); err != nil {
		t.Fatal(err)
	}
	before := len(f.requests())
	if r := runCLI(t, context.Background(), env, false, "import", big, "--type", "queue"); r.code != exitGeneric || !strings.Contains(r.err.Error(), "the limit is 1.0 MB") {
		t.Fatalf("over the limit: %d %v", r.code, r.err)
	}
	if reqs := f.requests(); len(reqs) != before+1 || reqs[len(reqs)-1].URL.Path != "/v1/imports" {
		t.Fatal("a file over the limit was uploaded")
	}

	refusal = "block"
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	r := runCLI(t, ctx, env, false, "import", csv, "--type", "queue")
	close(block)
	if r.code != exitInterrupted || !strings.Contains(r.err.Error(), "storage keeps nothing") {
		t.Fatalf("Ctrl-C during the upload: %d %v", r.code, r.err)
	}
}

// TestUploadProgressAndTimeout: the upload line tells bytes, percent, rate
// and ETA; the upload timeout grows with the file.
func TestUploadProgressAndTimeout(t *testing.T) {
	line := uploadLine("/x/q.csv", 5<<20, 20<<20, 5*time.Second)
	for _, want := range []string{"q.csv", "5.0 MB / 20.0 MB", " 25%", "1.0 MB/s", "ETA 15s"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress %q lacks %q", line, want)
		}
	}
	small, big := apiclient.UploadTimeout(10<<10), apiclient.UploadTimeout(500<<20)
	if small != 2*time.Minute || big < 30*time.Minute || big > 40*time.Minute {
		t.Errorf("upload timeouts: 10 KB %s, 500 MB %s", small, big)
	}
}

// TestCancel: `cancel ID` posts the cancel and prints the job as it ended
// (exit 0); a job that has ended is the API's 409 (exit 1); -o json prints
// the API's document.
func TestCancel(t *testing.T) {
	f := newFake(t)
	env := map[string]string{"BULKOPS_API_URL": f.srv.URL, "BULKOPS_TOKEN": "tok"}
	const id = "01JOBJOBJOBJOBJOBJOBJOBJOB"
	f.on("POST /v1/jobs/"+id+"/cancel", 200, jobDoc("Cancelled", `,"cancelledBy":"boss@acme.example"`))
	r := runCLI(t, context.Background(), env, false, "cancel", id)
	if r.code != exitOK || !strings.Contains(r.out, "Cancelled (cancelled by boss@acme.example)") {
		t.Fatalf("cancel: exit %d %v\n%s", r.code, r.err, r.out)
	}
	var req *http.Request
	for _, q := range f.requests() {
		if q.Method == "POST" {
			req = q
		}
	}
	if req == nil || req.URL.Path != "/v1/jobs/"+id+"/cancel" || req.Header.Get("Idempotency-Key") == "" {
		t.Fatalf("request: %+v", req)
	}
	r = runCLI(t, context.Background(), env, false, "cancel", id, "-o", "json")
	var doc map[string]any
	if r.code != exitOK || json.Unmarshal([]byte(r.out), &doc) != nil || doc["status"] != "Cancelled" {
		t.Fatalf("cancel -o json: exit %d\n%s", r.code, r.out)
	}
	f.on("POST /v1/jobs/"+id+"/cancel", 409, `{"status":409,"code":"CONFLICT","detail":"job 01JOB has already ended (Completed); only a job that is New or In Progress can be cancelled","instance":"urn:x"}`)
	r = runCLI(t, context.Background(), env, false, "cancel", id)
	if r.code != exitGeneric || !strings.Contains(r.err.Error()+describe(r.err), "already ended") {
		t.Fatalf("cancel of a finished job: exit %d %v", r.code, r.err)
	}
	if r := runCLI(t, context.Background(), env, false, "cancel"); r.code != exitUsage {
		t.Fatalf("cancel without ID: exit %d", r.code)
	}
}

// TestFailedPhaseShown: `bulkops job` prints where a failed job failed
// (the API's failedPhase) above its message, and nothing of the kind for a
// job that did not fail.
func TestFailedPhaseShown(t *testing.T) {
	f := newFake(t)
	env := map[string]string{"BULKOPS_API_URL": f.srv.URL, "BULKOPS_TOKEN": "tok"}
	const id = "01JOBJOBJOBJOBJOBJOBJOBJOB"
	for _, c := range []struct {
		name, doc, want string
	}{
		{"failed", jobDoc("Failed", `,"failedPhase":"rows (chunk 2 of 5)"`), "rows (chunk 2 of 5)"},
		{"completed", jobDoc("Completed", ""), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.on("GET /v1/jobs/"+id, 200, c.doc)
			r := runCLI(t, context.Background(), env, false, "job", id)
			line := ""
			for _, l := range strings.Split(r.out, "\n") {
				if strings.HasPrefix(l, "Failed in") {
					line = strings.TrimSpace(strings.TrimPrefix(l, "Failed in"))
				}
			}
			if r.code != exitOK || line != c.want {
				t.Fatalf("exit %d, Failed in %q, want %q\n%s", r.code, line, c.want, r.out)
			}
		})
	}
}
