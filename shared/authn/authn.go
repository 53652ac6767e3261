// Package authn establishes who calls the API: the tenant and the user,
// taken only from verified token claims, never from the request body.
//
// On AWS, API Gateway's JWT authorizer verifies the token and passes its
// claims to the Lambda; the Lambda adapter puts them in the request context
// and Claims reads them there. Locally, the dev server has no authorizer,
// so Verifier checks the token itself the way the authorizer does
// (RS256 signature, issuer, audience, expiry, not-before) against a local
// key pair; Sign makes tokens for it (`make token`).
package authn

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Identity is the verified caller.
type Identity struct {
	// Tenant scopes every read and write of the request.
	Tenant string
	// User is shown as "submitted by": the e-mail claim, or the subject.
	User string
}

// DefaultTenantClaim is the claim that names the tenant.
const DefaultTenantClaim = "tenant"

// tenantPattern is what a tenant ID may look like: it becomes an S3 key
// prefix and a DynamoDB partition, so nothing that could escape either.
var tenantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// fromClaims builds the identity from verified claims.
func fromClaims(claims map[string]any, tenantClaim string) (Identity, error) {
	str := func(k string) string {
		v, _ := claims[k].(string)
		return strings.TrimSpace(v)
	}
	id := Identity{Tenant: str(tenantClaim), User: str("email")}
	if id.User == "" {
		id.User = str("sub")
	}
	if !tenantPattern.MatchString(id.Tenant) {
		return Identity{}, bulkerr.New(bulkerr.Unauthenticated, "the token has no valid %q claim (lower-case letters, digits and -)", tenantClaim)
	}
	if id.User == "" {
		return Identity{}, bulkerr.New(bulkerr.Unauthenticated, "the token names no user (email or sub claim)")
	}
	return id, nil
}

// Authenticator finds the verified caller of a request.
type Authenticator interface {
	Identify(r *http.Request) (Identity, error)
}

type claimsKey struct{}

// WithClaims returns ctx carrying claims an authorizer has verified (the
// Lambda adapter calls it with API Gateway's JWT claims).
func WithClaims(ctx context.Context, claims map[string]string) context.Context {
	return context.WithValue(ctx, claimsKey{}, claims)
}

// Claims identifies callers by the claims API Gateway's JWT authorizer
// verified (see WithClaims). It never looks at the Authorization header.
type Claims struct {
	TenantClaim string
}

// Identify implements Authenticator.
func (c Claims) Identify(r *http.Request) (Identity, error) {
	raw, ok := r.Context().Value(claimsKey{}).(map[string]string)
	if !ok {
		return Identity{}, bulkerr.New(bulkerr.Unauthenticated, "no verified identity; call the API with a bearer token")
	}
	claims := make(map[string]any, len(raw))
	for k, v := range raw {
		claims[k] = v
	}
	return fromClaims(claims, tenantClaim(c.TenantClaim))
}

func tenantClaim(c string) string {
	if c == "" {
		return DefaultTenantClaim
	}
	return c
}

// Verifier checks RS256 bearer tokens like API Gateway's JWT authorizer.
type Verifier struct {
	Key         *rsa.PublicKey
	Issuer      string
	Audience    string
	TenantClaim string
	Now         func() time.Time
}

// Identify implements Authenticator.
func (v Verifier) Identify(r *http.Request) (Identity, error) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return Identity{}, bulkerr.New(bulkerr.Unauthenticated, "missing bearer token; send Authorization: Bearer <token>")
	}
	return v.Verify(strings.TrimSpace(token))
}

// Verify checks token and returns its identity.
func (v Verifier) Verify(token string) (Identity, error) {
	bad := func(why string) (Identity, error) {
		return Identity{}, bulkerr.New(bulkerr.Unauthenticated, "invalid token: %s", why)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return bad("not a JWT")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodePart(parts[0], &header); err != nil || header.Alg != "RS256" {
		return bad("the header is not RS256")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return bad("the signature is not base64url")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(v.Key, crypto.SHA256, digest[:], sig); err != nil {
		return bad("the signature does not verify")
	}
	var claims map[string]any
	if err := decodePart(parts[1], &claims); err != nil {
		return bad("the claims are not JSON")
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	num := func(k string) (float64, bool) { f, ok := claims[k].(float64); return f, ok }
	if exp, ok := num("exp"); !ok || now.Unix() >= int64(exp) {
		return bad("expired (or no exp claim)")
	}
	if nbf, ok := num("nbf"); ok && now.Unix() < int64(nbf) {
		return bad("not valid yet")
	}
	if iss, _ := claims["iss"].(string); iss != v.Issuer {
		return bad("wrong issuer")
	}
	if !hasAudience(claims["aud"], v.Audience) {
		return bad("wrong audience")
	}
	return fromClaims(claims, tenantClaim(v.TenantClaim))
}

func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, x := range a {
			if s, _ := x.(string); s == want {
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

// Sign makes an RS256 token with claims (local tokens and tests).
func Sign(key *rsa.PrivateKey, claims map[string]any) (string, error) {
	enc := func(v any) (string, error) {
		b, err := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b), err
	}
	h, err := enc(map[string]string{"alg": "RS256", "typ": "JWT"})
	if err != nil {
		return "", err
	}
	c, err := enc(claims)
	if err != nil {
		return "", err
	}
	digest := sha256.Sum256([]byte(h + "." + c))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return h + "." + c + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// LocalIssuer and LocalAudience are the local stack's token issuer and
// audience.
const (
	LocalIssuer   = "https://bulkops.local/"
	LocalAudience = "bulkops-local"
)

// LocalToken signs a token for tenant and user with the local key, valid
// for ttl.
func LocalToken(key *rsa.PrivateKey, tenant, user string, ttl time.Duration) (string, error) {
	now := time.Now()
	return Sign(key, map[string]any{
		"iss": LocalIssuer, "aud": LocalAudience, "sub": user, "email": user,
		DefaultTenantClaim: tenant, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
	})
}

// LoadOrCreateKey reads the local RSA key from path (PEM, PKCS#8), creating
// it (mode 0600) when missing.
func LoadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
		return key, nil
	}
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an RSA key", path)
	}
	return key, nil
}
