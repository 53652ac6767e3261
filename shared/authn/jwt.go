package authn

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// KeyResolver finds the public key that verifies a token, by its kid.
type KeyResolver interface {
	PublicKey(ctx context.Context, kid string) (*rsa.PublicKey, error)
}

// StaticKey resolves every kid to one key.
type StaticKey struct{ Key *rsa.PublicKey }

// PublicKey implements KeyResolver.
func (s StaticKey) PublicKey(context.Context, string) (*rsa.PublicKey, error) { return s.Key, nil }

// PublicKey implements KeyResolver: the set's keys by kid.
func (ks *KeySet) PublicKey(_ context.Context, kid string) (*rsa.PublicKey, error) {
	for _, k := range ks.Keys() {
		if k.ID == kid {
			return &k.Private.PublicKey, nil
		}
	}
	return nil, bulkerr.New(bulkerr.Unauthenticated, "invalid token: no key with kid %q", kid)
}

// TokenPolicy is what API Gateway's JWT authorizer checks of a token: an
// RS256 signature by a key of the issuer's JWKS (by kid), the issuer, one
// of the audiences (the aud claim, or client_id when a token has no aud, as
// Cognito access tokens), exp, nbf and iat.
type TokenPolicy struct {
	Issuer    string
	Audiences []string
	Keys      KeyResolver
	Now       func() time.Time
}

func invalid(why string, args ...any) error {
	return bulkerr.New(bulkerr.Unauthenticated, "invalid token: "+why, args...)
}

// Verify checks token and returns its claims. Errors are Unauthenticated;
// their message says why, in words fit for a www-authenticate header.
func (p TokenPolicy) Verify(ctx context.Context, token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, invalid("not a JWT")
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodePart(parts[0], &header); err != nil || header.Alg != "RS256" {
		return nil, invalid("the header is not RS256")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, invalid("the signature is not base64url")
	}
	key, err := p.Keys.PublicKey(ctx, header.Kid)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return nil, invalid("the signature does not verify")
	}
	var claims map[string]any
	if err := decodePart(parts[1], &claims); err != nil {
		return nil, invalid("the claims are not JSON")
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	num := func(k string) (float64, bool) { f, ok := claims[k].(float64); return f, ok }
	if exp, ok := num("exp"); !ok || now.Unix() >= int64(exp) {
		return nil, invalid("the token has expired (or has no exp claim)")
	}
	if nbf, ok := num("nbf"); ok && now.Unix() < int64(nbf) {
		return nil, invalid("the token is not valid yet (nbf)")
	}
	if iat, ok := num("iat"); ok && now.Unix() < int64(iat) {
		return nil, invalid("the token was issued in the future (iat)")
	}
	if iss, _ := claims["iss"].(string); iss != p.Issuer {
		return nil, invalid("wrong issuer")
	}
	aud, hasAud := claims["aud"]
	if !hasAud {
		aud = claims["client_id"]
	}
	if !hasAudience(aud, p.Audiences) {
		return nil, invalid("wrong audience")
	}
	return claims, nil
}

// TokenScopes returns a token's scopes: the space-separated scope claim,
// or the scp claim (a list or a string), as API Gateway reads them.
func TokenScopes(claims map[string]any) []string {
	if s, ok := claims["scope"].(string); ok {
		return strings.Fields(s)
	}
	switch s := claims["scp"].(type) {
	case string:
		return strings.Fields(s)
	case []any:
		var out []string
		for _, x := range s {
			if v, ok := x.(string); ok {
				out = append(out, v)
			}
		}
		return out
	}
	return nil
}

func hasAudience(aud any, want []string) bool {
	match := func(s string) bool {
		for _, w := range want {
			if s == w {
				return true
			}
		}
		return false
	}
	switch a := aud.(type) {
	case string:
		return match(a)
	case []any:
		for _, x := range a {
			if s, _ := x.(string); match(s) {
				return true
			}
		}
	}
	return false
}

func decodePart(p string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
