package authn

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
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
	v := Verifier{Keys: StaticKey{Key: &key.PublicKey}, Issuer: DefaultLocalIssuer, Audience: LocalAudience, Now: func() time.Time { return now }}
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": DefaultLocalIssuer, "aud": LocalAudience, "sub": "u1", "email": "ana@example.com",
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
		{"client_id when no aud", "Bearer " + sign(key, claims(func(c map[string]any) { delete(c, "aud"); c["client_id"] = LocalAudience })), "acme/ana@example.com"},
		{"issued in the future", "Bearer " + sign(key, claims(func(c map[string]any) { c["iat"] = now.Add(time.Minute).Unix() })), "!issued in the future"},
		{"sub when no email", "Bearer " + sign(key, claims(func(c map[string]any) { delete(c, "email") })), "acme/u1"},
		{"no header", "", "!missing bearer token"},
		{"basic auth", "Basic abc", "!missing bearer token"},
		{"other key", "Bearer " + sign(other, claims(nil)), "!signature does not verify"},
		{"alg none", "Bearer " + noneAlg, "!not RS256"},
		{"expired", "Bearer " + sign(key, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() })), "!has expired"},
		{"no exp", "Bearer " + sign(key, claims(func(c map[string]any) { delete(c, "exp") })), "!has expired"},
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

func TestKeySetFileAndRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", "jwt.pem")
	ks, err := LoadOrCreateKeySet(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ks.Keys()); n != 2 {
		t.Fatalf("%d keys, want 2 (current and previous)", n)
	}
	again, err := LoadOrCreateKeySet(path)
	if err != nil || again.Current().ID != ks.Current().ID || again.Keys()[1].ID != ks.Keys()[1].ID {
		t.Fatalf("reloaded set differs: %v", err)
	}
	tok, err := LocalToken(ks, DefaultLocalIssuer, "demo", "admin@demo.example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(keys KeyResolver, tok string) error {
		_, err := Verifier{Keys: keys, Issuer: DefaultLocalIssuer, Audience: LocalAudience}.Verify(context.Background(), tok)
		return err
	}
	if err := verify(again, tok); err != nil {
		t.Fatal(err)
	}
	// A token of the previous key still verifies.
	old, _ := Sign(ks.Keys()[1].Private, LocalClaims(DefaultLocalIssuer, "demo", "a@b.c", time.Now(), time.Hour))
	if err := verify(ks, old); err != nil {
		t.Fatalf("previous key: %v", err)
	}
	// Rotation: the current key becomes the previous one; the file follows.
	first := ks.Current().ID
	if err := ks.Rotate(); err != nil {
		t.Fatal(err)
	}
	if ks.Keys()[1].ID != first || ks.Current().ID == first {
		t.Fatalf("after rotation: %v", ks.Keys())
	}
	if err := verify(ks, tok); err != nil {
		t.Fatalf("token of the now previous key: %v", err)
	}
	if err := verify(ks, old); err == nil || !strings.Contains(err.Error(), "no key with kid") {
		t.Fatalf("token of the dropped key: %v", err)
	}
	reread, _ := LoadOrCreateKeySet(path)
	if reread.Current().ID != ks.Current().ID {
		t.Fatal("rotation was not saved")
	}
}

func TestKeyIDIsTheRFC7638Thumbprint(t *testing.T) {
	// RFC 7638 section 3.1's example key and thumbprint.
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	if got := KeyID(pub); got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("kid %s", got)
	}
	j, err := PublicJWK(pub).PublicKey()
	if err != nil || !j.Equal(pub) {
		t.Fatalf("JWK round trip: %v", err)
	}
}
