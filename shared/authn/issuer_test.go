package authn

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// startIssuer serves an issuer at <server>/oidc on 127.0.0.1.
func startIssuer(t *testing.T) (*Issuer, *httptest.Server) {
	t.Helper()
	ks, err := NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	is := &Issuer{Keys: ks}
	mux := http.NewServeMux()
	mux.Handle("/oidc/", is)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	is.URL = srv.URL + "/oidc"
	return is, srv
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// pkce returns a code verifier and its S256 challenge.
func pkce(seed string) (string, string) {
	v := strings.Repeat(seed, 43)[:43]
	sum := sha256.Sum256([]byte(v))
	return v, b64(sum[:])
}

func TestIssuerAuthorizationCodeFlowWithPKCE(t *testing.T) {
	is, srv := startIssuer(t)
	ctx := context.Background()

	// Discovery names every endpoint under the issuer.
	resp, err := http.Get(is.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if disc["issuer"] != is.URL || disc["jwks_uri"] != is.URL+"/jwks.json" || disc["authorization_endpoint"] != is.URL+"/authorize" ||
		disc["token_endpoint"] != is.URL+"/token" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("discovery: %v", disc)
	}

	verifier, challenge := pkce("a1b2c")
	redirect := "http://127.0.0.1:5173/callback"
	q := url.Values{"response_type": {"code"}, "client_id": {LocalAudience}, "redirect_uri": {redirect},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"st-1"}, "nonce": {"n-1"}}

	// The sign-in page asks for tenant and e-mail and carries the request.
	resp, err = http.Get(is.URL + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `name="tenant"`) || !strings.Contains(string(page), challenge) {
		t.Fatalf("sign-in page %d:\n%s", resp.StatusCode, page)
	}

	signIn := func(form url.Values) *http.Response {
		t.Helper()
		resp, err := noRedirects.PostForm(is.URL+"/authorize", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	form := url.Values{}
	for k, v := range q {
		form[k] = v
	}
	form.Set("tenant", "../evil")
	form.Set("email", "ana@acme.example")
	if r := signIn(form); r.StatusCode != 400 {
		t.Fatalf("bad tenant: %d", r.StatusCode)
	}
	form.Set("tenant", "acme")
	r := signIn(form)
	loc, _ := url.Parse(r.Header.Get("Location"))
	code := loc.Query().Get("code")
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), redirect+"?") || loc.Query().Get("state") != "st-1" || code == "" {
		t.Fatalf("redirect %d %s", r.StatusCode, loc)
	}

	exchange := func(code, verifier, redirect string) (int, map[string]any) {
		t.Helper()
		resp, err := http.PostForm(is.URL+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"client_id": {LocalAudience}, "redirect_uri": {redirect}, "code_verifier": {verifier}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if st, out := exchange(code, strings.Repeat("x", 43), redirect); st != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %v", st, out)
	}
	// A code is good for one exchange only, even a failed one.
	if st, _ := exchange(code, verifier, redirect); st != 400 {
		t.Fatalf("reused code: %d", st)
	}
	code = loc.Query().Get("code")
	r = signIn(form)
	loc, _ = url.Parse(r.Header.Get("Location"))
	if st, _ := exchange(loc.Query().Get("code"), verifier, "http://127.0.0.1:5173/other"); st != 400 {
		t.Fatalf("other redirect_uri: %d", st)
	}
	r = signIn(form)
	loc, _ = url.Parse(r.Header.Get("Location"))
	st, out := exchange(loc.Query().Get("code"), verifier, redirect)
	if st != 200 || out["token_type"] != "Bearer" {
		t.Fatalf("exchange: %d %v", st, out)
	}

	// The tokens verify against the JWKS fetched over HTTP, as API
	// Gateway's authorizer does.
	jwks := &RemoteJWKS{Issuer: is.URL}
	policy := TokenPolicy{Issuer: is.URL, Audiences: []string{LocalAudience}, Keys: jwks}
	claims, err := policy.Verify(ctx, out["access_token"].(string))
	if err != nil || claims["tenant"] != "acme" || claims["email"] != "ana@acme.example" || claims["sub"] == "" || claims["scope"] != LocalScope {
		t.Fatalf("access token: %v %v", claims, err)
	}
	idClaims, err := policy.Verify(ctx, out["id_token"].(string))
	if err != nil || idClaims["nonce"] != "n-1" || idClaims["tenant"] != "acme" {
		t.Fatalf("id token: %v %v", idClaims, err)
	}

	// Rotation: a token of the old current key and one of the new key both
	// verify; the new kid makes the verifier fetch the JWKS again.
	old := out["access_token"].(string)
	if err := is.Keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	fresh, _ := LocalToken(is.Keys, is.URL, "acme", "bo@acme.example", time.Hour)
	for name, tok := range map[string]string{"previous key": old, "new key": fresh} {
		if _, err := policy.Verify(ctx, tok); err != nil {
			t.Fatalf("%s after rotation: %v", name, err)
		}
	}
	if err := is.Keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	policy.Keys = &RemoteJWKS{Issuer: is.URL} // a verifier whose cache has expired
	if _, err := policy.Verify(ctx, old); err == nil {
		t.Fatal("a token of a key rotated out still verifies")
	}
	// Another issuer's verifier does not trust these tokens.
	if _, err := (TokenPolicy{Issuer: srv.URL + "/other", Audiences: []string{LocalAudience}, Keys: jwks}).Verify(ctx, fresh); err == nil {
		t.Fatal("wrong issuer accepted")
	}
}

func TestIssuerRefusesBadAuthorizationRequests(t *testing.T) {
	is, _ := startIssuer(t)
	_, challenge := pkce("zz")
	base := url.Values{"response_type": {"code"}, "client_id": {LocalAudience}, "redirect_uri": {"http://localhost:8080/cb"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"s"}}
	tests := []struct {
		name, key, value string
		status           int
		errParam         string
	}{
		{"unknown client", "client_id", "other", 400, ""},
		{"remote redirect", "redirect_uri", "https://evil.example/cb", 400, ""},
		{"no PKCE", "code_challenge", "", 302, "invalid_request"},
		{"plain PKCE", "code_challenge_method", "plain", 302, "invalid_request"},
		{"implicit flow", "response_type", "token", 302, "unsupported_response_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range base {
				q[k] = v
			}
			q.Set(tt.key, tt.value)
			resp, err := noRedirects.Get(is.URL + "/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != tt.status || (tt.errParam != "" && (loc.Query().Get("error") != tt.errParam || loc.Query().Get("state") != "s")) {
				t.Fatalf("%d %s", resp.StatusCode, loc)
			}
		})
	}
	resp, err := http.PostForm(is.URL+"/token", url.Values{"grant_type": {"password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("password grant: %d", resp.StatusCode)
	}
}
