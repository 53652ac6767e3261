package authn

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

func TestVerifier(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Unix(1_800_000_000, 0)
	v := Verifier{Key: &key.PublicKey, Issuer: LocalIssuer, Audience: LocalAudience, Now: func() time.Time { return now }}
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": LocalIssuer, "aud": LocalAudience, "sub": "u1", "email": "ana@example.com",
			"tenant": "acme", "exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(k *rsa.PrivateKey, c map[string]any) string {
		tok, err := Sign(k, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	noneAlg := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
		strings.Split(sign(key, claims(nil)), ".")[1] + "."
	tests := []struct {
		name, header, want string // want: tenant/user, or "!" + part of the error
	}{
		{"valid", "Bearer " + sign(key, claims(nil)), "acme/ana@example.com"},
		{"audience list", "Bearer " + sign(key, claims(func(c map[string]any) { c["aud"] = []string{"x", LocalAudience} })), "acme/ana@example.com"},
		{"sub when no email", "Bearer " + sign(key, claims(func(c map[string]any) { delete(c, "email") })), "acme/u1"},
		{"no header", "", "!missing bearer token"},
		{"basic auth", "Basic abc", "!missing bearer token"},
		{"other key", "Bearer " + sign(other, claims(nil)), "!signature does not verify"},
		{"alg none", "Bearer " + noneAlg, "!not RS256"},
		{"expired", "Bearer " + sign(key, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() })), "!expired"},
		{"no exp", "Bearer " + sign(key, claims(func(c map[string]any) { delete(c, "exp") })), "!expired"},
		{"not yet", "Bearer " + sign(key, claims(func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() })), "!not valid yet"},
		{"issuer", "Bearer " + sign(key, claims(func(c map[string]any) { c["iss"] = "https://evil/" })), "!wrong issuer"},
		{"audience", "Bearer " + sign(key, claims(func(c map[string]any) { c["aud"] = "other" })), "!wrong audience"},
		{"no tenant", "Bearer " + sign(key, claims(func(c map[string]any) { delete(c, "tenant") })), "!no valid \"tenant\" claim"},
		{"tenant escapes prefix", "Bearer " + sign(key, claims(func(c map[string]any) { c["tenant"] = "../other" })), "!no valid \"tenant\" claim"},
		{"garbage", "Bearer a.b", "!not a JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/jobs", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			id, err := v.Identify(r)
			if strings.HasPrefix(tt.want, "!") {
				if err == nil || bulkerr.KindOf(err) != bulkerr.Unauthenticated || !strings.Contains(err.Error(), tt.want[1:]) {
					t.Fatalf("got %+v, %v; want Unauthenticated %q", id, err, tt.want[1:])
				}
				return
			}
			if err != nil || id.Tenant+"/"+id.User != tt.want {
				t.Fatalf("got %+v, %v; want %s", id, err, tt.want)
			}
		})
	}
}

func TestClaimsFromContextOnly(t *testing.T) {
	r := httptest.NewRequest("GET", "/v1/jobs", nil)
	r.Header.Set("Authorization", "Bearer forged")
	if _, err := (Claims{}).Identify(r); bulkerr.KindOf(err) != bulkerr.Unauthenticated {
		t.Fatalf("a request without authorizer claims: %v", err)
	}
	r = r.WithContext(WithClaims(r.Context(), map[string]string{"tenant": "acme", "email": "ana@example.com"}))
	id, err := (Claims{}).Identify(r)
	if err != nil || id != (Identity{Tenant: "acme", User: "ana@example.com"}) {
		t.Fatalf("got %+v, %v", id, err)
	}
}

func TestLocalKeyAndToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", "jwt.pem")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("reloaded key differs: %v", err)
	}
	tok, err := LocalToken(k1, "demo", "admin@demo.example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := Verifier{Key: &k2.PublicKey, Issuer: LocalIssuer, Audience: LocalAudience}.Verify(tok)
	if err != nil || id.Tenant != "demo" || id.User != "admin@demo.example" {
		t.Fatalf("got %+v, %v", id, err)
	}
}
