package authn

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Issuer is the local stack's OpenID Connect provider: the dev server
// serves it at URL (http://127.0.0.1:<lambda port>/oidc), so API Gateway's
// authorizer (played by the dev server), a browser OIDC client or any
// standard verifier trusts local tokens the way they trust a real
// provider's. It serves, under URL's path:
//
//	GET  /.well-known/openid-configuration  discovery (OpenID Connect Discovery 1.0)
//	GET  /jwks.json                         the set's public keys (current and previous)
//	GET  /authorize                         a minimal sign-in page (tenant and e-mail);
//	POST /authorize                         authorization code flow with PKCE S256 only
//	POST /token                             grant_type=authorization_code with code_verifier
//
// There are no passwords: it is a local stand-in, bound to 127.0.0.1, and
// it redirects only to loopback addresses.
type Issuer struct {
	URL      string // the issuer (iss), without a trailing slash
	Keys     *KeySet
	ClientID string        // default LocalAudience
	TokenTTL time.Duration // default 1 hour
	Now      func() time.Time

	mu    sync.Mutex
	codes map[string]authCode
}

// authCode is an issued authorization code, good for one exchange.
type authCode struct {
	clientID, redirectURI, challenge string
	tenant, email, scope, nonce      string
	expires                          time.Time
}

const (
	codeTTL      = 5 * time.Minute
	maxCodes     = 1000 // pending codes kept at most
	maxFormBytes = 16 << 10
)

func (is *Issuer) now() time.Time {
	if is.Now != nil {
		return is.Now()
	}
	return time.Now()
}

func (is *Issuer) clientID() string {
	if is.ClientID == "" {
		return LocalAudience
	}
	return is.ClientID
}

// base is the issuer URL's path, the prefix of every route.
func (is *Issuer) base() string {
	u, err := url.Parse(is.URL)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(u.Path, "/")
}

// Discovery is the provider's discovery document.
func (is *Issuer) Discovery() map[string]any {
	return map[string]any{
		"issuer":                                is.URL,
		"authorization_endpoint":                is.URL + "/authorize",
		"token_endpoint":                        is.URL + "/token",
		"jwks_uri":                              is.URL + "/jwks.json",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"none"},
		"scopes_supported":                      strings.Fields(LocalScope),
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "email", DefaultTenantClaim, "scope", "nonce"},
	}
}

// ServeHTTP implements http.Handler.
func (is *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, is.base())
	if !ok {
		http.NotFound(w, r)
		return
	}
	// Public documents and the token endpoint are read by browser apps
	// of other origins.
	switch path {
	case "/.well-known/openid-configuration", "/jwks.json", "/token":
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	switch {
	case path == "/.well-known/openid-configuration" && r.Method == http.MethodGet:
		writeJSONDoc(w, http.StatusOK, is.Discovery())
	case path == "/jwks.json" && r.Method == http.MethodGet:
		w.Header().Set("Cache-Control", "max-age=60")
		writeJSONDoc(w, http.StatusOK, is.Keys.JWKS())
	case path == "/authorize" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		is.authorize(w, r)
	case path == "/token" && r.Method == http.MethodPost:
		is.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

// authRequest is an authorization request's parameters.
type authRequest struct {
	ResponseType, ClientID, RedirectURI, Scope, State, Nonce string
	Challenge, ChallengeMethod                               string
	Tenant, Email, Error                                     string
}

func (is *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the request is not a valid form", http.StatusBadRequest)
		return
	}
	f := r.Form
	ar := authRequest{
		ResponseType: f.Get("response_type"), ClientID: f.Get("client_id"), RedirectURI: f.Get("redirect_uri"),
		Scope: f.Get("scope"), State: f.Get("state"), Nonce: f.Get("nonce"),
		Challenge: f.Get("code_challenge"), ChallengeMethod: f.Get("code_challenge_method"),
		Tenant: strings.TrimSpace(f.Get("tenant")), Email: strings.TrimSpace(f.Get("email")),
	}
	// An unknown client or redirect URI is never redirected to (RFC 6749
	// section 4.1.2.1): the user sees the error.
	if ar.ClientID != is.clientID() {
		http.Error(w, "unknown client_id "+ar.ClientID, http.StatusBadRequest)
		return
	}
	if !loopbackRedirect(ar.RedirectURI) {
		http.Error(w, "redirect_uri must be an http(s) URL on 127.0.0.1, localhost or [::1]", http.StatusBadRequest)
		return
	}
	switch {
	case ar.ResponseType != "code":
		redirectError(w, r, ar, "unsupported_response_type", "response_type must be code")
		return
	case ar.ChallengeMethod != "S256" || len(ar.Challenge) != 43:
		redirectError(w, r, ar, "invalid_request", "PKCE is required: code_challenge_method=S256 and a 43-character code_challenge")
		return
	}
	if ar.Scope == "" {
		ar.Scope = LocalScope
	}
	if r.Method == http.MethodGet {
		signInPage(w, ar)
		return
	}
	if !tenantPattern.MatchString(ar.Tenant) {
		ar.Error = "The tenant must be lower-case letters, digits and -, starting with a letter or digit (at most 63)."
	} else if at := strings.Index(ar.Email, "@"); at < 1 || at == len(ar.Email)-1 || len(ar.Email) > 254 || strings.ContainsAny(ar.Email, " <>\"") {
		ar.Error = "Enter an e-mail address."
	}
	if ar.Error != "" {
		w.WriteHeader(http.StatusBadRequest)
		signInPage(w, ar)
		return
	}
	code := randomToken()
	is.mu.Lock()
	if is.codes == nil {
		is.codes = map[string]authCode{}
	}
	now := is.now()
	for k, c := range is.codes {
		if now.After(c.expires) {
			delete(is.codes, k)
		}
	}
	if len(is.codes) >= maxCodes {
		is.mu.Unlock()
		redirectError(w, r, ar, "temporarily_unavailable", "too many pending sign-ins")
		return
	}
	is.codes[code] = authCode{clientID: ar.ClientID, redirectURI: ar.RedirectURI, challenge: ar.Challenge,
		tenant: ar.Tenant, email: ar.Email, scope: ar.Scope, nonce: ar.Nonce, expires: now.Add(codeTTL)}
	is.mu.Unlock()
	q := url.Values{"code": {code}}
	if ar.State != "" {
		q.Set("state", ar.State)
	}
	http.Redirect(w, r, withQuery(ar.RedirectURI, q), http.StatusFound)
}

func (is *Issuer) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	fail := func(status int, code, desc string) {
		writeJSONDoc(w, status, map[string]string{"error": code, "error_description": desc})
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "authorization_code" {
		fail(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code")
		return
	}
	is.mu.Lock()
	c, ok := is.codes[f.Get("code")]
	delete(is.codes, f.Get("code")) // one exchange per code, even a failed one
	is.mu.Unlock()
	verifier := f.Get("code_verifier")
	sum := sha256.Sum256([]byte(verifier))
	switch {
	case !ok || is.now().After(c.expires):
		fail(http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
	case f.Get("client_id") != c.clientID:
		fail(http.StatusBadRequest, "invalid_client", "client_id does not match the code")
	case f.Get("redirect_uri") != c.redirectURI:
		fail(http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
	case len(verifier) < 43 || len(verifier) > 128:
		fail(http.StatusBadRequest, "invalid_grant", "code_verifier must be 43 to 128 characters")
	case subtle.ConstantTimeCompare([]byte(b64(sum[:])), []byte(c.challenge)) != 1:
		fail(http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
	default:
		is.issueTokens(w, c)
	}
}

func (is *Issuer) issueTokens(w http.ResponseWriter, c authCode) {
	ttl := is.TokenTTL
	if ttl == 0 {
		ttl = time.Hour
	}
	now := is.now()
	access := LocalClaims(is.URL, c.tenant, c.email, now, ttl)
	access["aud"], access["client_id"], access["scope"] = c.clientID, c.clientID, c.scope
	id := map[string]any{
		"iss": is.URL, "aud": c.clientID, "sub": access["sub"], "email": c.email, DefaultTenantClaim: c.tenant,
		"token_use": "id", "iat": now.Unix(), "exp": now.Add(ttl).Unix(), "scope": c.scope,
	}
	if c.nonce != "" {
		id["nonce"] = c.nonce
	}
	at, err1 := is.Keys.Sign(access)
	it, err2 := is.Keys.Sign(id)
	if err1 != nil || err2 != nil {
		writeJSONDoc(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	writeJSONDoc(w, http.StatusOK, map[string]any{
		"access_token": at, "id_token": it, "token_type": "Bearer", "expires_in": int(ttl.Seconds()), "scope": c.scope,
	})
}

// loopbackRedirect accepts http(s) URLs on a loopback host only.
func loopbackRedirect(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Fragment != "" || u.User != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func withQuery(raw string, q url.Values) string {
	u, _ := url.Parse(raw)
	v := u.Query()
	for k, vs := range q {
		v[k] = vs
	}
	u.RawQuery = v.Encode()
	return u.String()
}

func redirectError(w http.ResponseWriter, r *http.Request, ar authRequest, code, desc string) {
	q := url.Values{"error": {code}, "error_description": {desc}}
	if ar.State != "" {
		q.Set("state", ar.State)
	}
	http.Redirect(w, r, withQuery(ar.RedirectURI, q), http.StatusFound)
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return b64(b[:])
}

func writeJSONDoc(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var signInTemplate = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in – bulkops (local)</title>
<style>body{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:1rem 0 .25rem}input{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1.25rem;padding:.5rem 1.5rem}.error{color:#b00020}</style></head>
<body><h1>Sign in</h1><p>Local identity provider of the bulkops dev stack: no password, any tenant.</p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post">
<label for="tenant">Tenant</label><input id="tenant" name="tenant" value="{{.Tenant}}" required pattern="[a-z0-9][a-z0-9\-]{0,62}" autocomplete="organization">
<label for="email">E-mail</label><input id="email" name="email" type="email" value="{{.Email}}" required autocomplete="email">
<input type="hidden" name="response_type" value="{{.ResponseType}}"><input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}"><input type="hidden" name="scope" value="{{.Scope}}">
<input type="hidden" name="state" value="{{.State}}"><input type="hidden" name="nonce" value="{{.Nonce}}">
<input type="hidden" name="code_challenge" value="{{.Challenge}}"><input type="hidden" name="code_challenge_method" value="{{.ChallengeMethod}}">
<button type="submit">Sign in</button></form></body></html>
`))

func signInPage(w http.ResponseWriter, ar authRequest) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_ = signInTemplate.Execute(w, ar)
}
