package devstack

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConsoleServesFilesConfigAndHeaders(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"index.html": "<!doctype html><title>console</title>", "app.js": "console.log(1)"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := &Console{Dir: dir, Connect: []string{"http://127.0.0.1:9000", ""},
		Config: ConsoleConfig{APIBase: "http://127.0.0.1:3000/dev", Issuer: "http://127.0.0.1:3001/oidc", ClientID: "bulkops-local"}}
	srv := httptest.NewServer(c)
	defer srv.Close()

	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	tests := []struct {
		path, wantBody, wantType string
	}{
		{"/", "<title>console</title>", "text/html"},
		{"/app.js", "console.log(1)", "javascript"},
		{"/jobs/anything", "<title>console</title>", "text/html"}, // not a file: the app
	}
	for _, tt := range tests {
		res, body := get(tt.path)
		if res.StatusCode != 200 || !strings.Contains(body, tt.wantBody) || !strings.Contains(res.Header.Get("Content-Type"), tt.wantType) {
			t.Errorf("GET %s = %d %q %q", tt.path, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
			"connect-src 'self' http://127.0.0.1:3000 http://127.0.0.1:3001 http://127.0.0.1:9000;"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", tt.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("CSP allows unsafe sources: %q", csp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: security headers %v", tt.path, res.Header)
		}
	}

	// A path out of Dir is refused (net/http refuses any ".." in it).
	if res, body := get("/../../etc/passwd"); res.StatusCode == 200 || strings.Contains(body, "root:") {
		t.Errorf("GET /../../etc/passwd = %d %q", res.StatusCode, body)
	}

	res, body := get("/config.json")
	var cfg ConsoleConfig
	if err := json.Unmarshal([]byte(body), &cfg); err != nil || cfg != c.Config || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("config.json = %q (%v), cache %q", body, err, res.Header.Get("Cache-Control"))
	}

	post, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d", post.StatusCode)
	}
}

func TestConsoleNotBuiltSaysHow(t *testing.T) {
	c := &Console{Dir: filepath.Join(t.TempDir(), "missing")}
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "make web") {
		t.Fatalf("= %d %q", rec.Code, rec.Body.String())
	}
}

func TestConsoleStartListensAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Console{Dir: t.TempDir()}
	errc := make(chan error, 1)
	if err := c.Start(ctx, "127.0.0.1:0", errc, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := c.Start(context.Background(), "256.0.0.1:0", errc, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Fatal("a bad address must be refused")
	}
}
