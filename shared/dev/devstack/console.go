package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// ConsoleConfig is the web console's config.json: where its API is and
// which OpenID Connect issuer and client it signs in with (web/src/config.ts).
type ConsoleConfig struct {
	APIBase  string `json:"apiBase"`
	Issuer   string `json:"issuer"`
	ClientID string `json:"clientId"`
	Scope    string `json:"scope,omitempty"`
}

// Console serves the built web console (web/dist) the way the deployed
// CloudFront distribution does: the static files, a config.json made from
// the local stack's addresses, and the same security headers (a strict
// Content-Security-Policy that allows scripts and styles from the console
// itself only, and connections to the API, the issuer and S3).
type Console struct {
	// Dir holds index.html, app.js and app.css (make web builds it).
	Dir    string
	Config ConsoleConfig
	// Connect are further origins the page may connect to (S3's, for the
	// presigned uploads and the error CSV preview).
	Connect []string
}

// origin is the scheme://host[:port] of a URL, or "" when it has none.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// CSP is the console's Content-Security-Policy.
func (c *Console) CSP() string {
	connect := []string{"'self'"}
	for _, s := range append([]string{c.Config.APIBase, c.Config.Issuer}, c.Connect...) {
		if o := origin(s); o != "" && !contains(connect, o) {
			connect = append(connect, o)
		}
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"connect-src " + strings.Join(connect, " "),
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
		"manifest-src 'self'",
	}, "; ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ServeHTTP serves config.json and the files of Dir; any other path that
// is not a file gets index.html (the console routes in the URL fragment).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", c.CSP())
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := path.Clean("/" + r.URL.Path)
	if name == "/config.json" {
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.Config)
		return
	}
	file := filepath.Join(c.Dir, filepath.FromSlash(name))
	if st, err := os.Stat(file); err != nil || st.IsDir() {
		file = filepath.Join(c.Dir, "index.html")
	}
	if _, err := os.Stat(file); err != nil {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "The web console is not built (no %s). Run: make web\n", filepath.Join(c.Dir, "index.html"))
		return
	}
	if strings.HasSuffix(file, "index.html") {
		h.Set("Cache-Control", "no-cache")
	} else {
		h.Set("Cache-Control", "public, max-age=60")
	}
	http.ServeFile(w, r, file)
}

// Start serves the console on addr until ctx ends; a failure of the server
// is sent to errc.
func (c *Console) Start(ctx context.Context, addr string, errc chan<- error, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	s := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("console: %w", err)
		}
	}()
	go func() { <-ctx.Done(); _ = s.Close() }()
	log.Info("web console", "url", "http://"+ln.Addr().String()+"/", "api", c.Config.APIBase, "issuer", c.Config.Issuer)
	return nil
}
