// Package authn establishes who calls the API: the tenant and the user,
// taken only from verified token claims, never from the request body.
//
// On AWS, API Gateway's JWT authorizer verifies the token and passes its
// claims to the Lambda; the Lambda adapter puts them in the request context
// and Claims reads them there. Locally, the dev server plays API Gateway:
// its authorizer checks tokens with TokenPolicy against the JWKS it fetches
// from the issuer (RemoteJWKS), as AWS does, and the local issuer (Issuer,
// with its KeySet) is a minimal OpenID Connect provider that signs them
// (`make token`, the web console's sign-in).
package authn

import (
	"context"
	"net/http"
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
	// OperatorScope is the scope of operators' tokens ("" is
	// DefaultOperatorScope; see IdentifyOperator).
	OperatorScope string
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

// Verifier checks bearer tokens itself, the way API Gateway's JWT
// authorizer does (see TokenPolicy), and identifies the caller by their
// claims. The API on AWS never uses it: there the authorizer has verified
// the token and Claims reads what it passed on.
type Verifier struct {
	Keys        KeyResolver
	Issuer      string
	Audience    string
	TenantClaim string
	// OperatorScope is the scope of operators' tokens ("" is
	// DefaultOperatorScope).
	OperatorScope string
	Now           func() time.Time
}

// Identify implements Authenticator.
func (v Verifier) Identify(r *http.Request) (Identity, error) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return Identity{}, bulkerr.New(bulkerr.Unauthenticated, "missing bearer token; send Authorization: Bearer <token>")
	}
	return v.Verify(r.Context(), strings.TrimSpace(token))
}

// Verify checks token and returns its identity.
func (v Verifier) Verify(ctx context.Context, token string) (Identity, error) {
	claims, err := TokenPolicy{Issuer: v.Issuer, Audiences: []string{v.Audience}, Keys: v.Keys, Now: v.Now}.Verify(ctx, token)
	if err != nil {
		return Identity{}, err
	}
	return fromClaims(claims, tenantClaim(v.TenantClaim))
}
