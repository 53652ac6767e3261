package authn

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// DefaultOperatorScope is the scope that makes a token an operator's
// (template parameter OperatorScope, BULKOPS_OPERATOR_SCOPE).
const DefaultOperatorScope = "bulkops/operator"

// Operator is a verified operator: a caller whose token carries the
// operator scope. An operator is no tenant's member; it acts on the tenant
// an operator route names in its path.
type Operator struct {
	// Name is recorded in the audit: the e-mail claim, else the subject,
	// else the client ID (a client-credentials token).
	Name string
}

// OperatorAuthenticator finds the verified operator calling a request; a
// verified caller without the operator scope is Forbidden.
type OperatorAuthenticator interface {
	IdentifyOperator(r *http.Request) (Operator, error)
}

func operatorScope(s string) string {
	if s == "" {
		return DefaultOperatorScope
	}
	return s
}

// operatorFromClaims builds the operator from verified claims; scope is
// the operator scope.
func operatorFromClaims(claims map[string]any, scope string) (Operator, error) {
	if !slices.Contains(TokenScopes(claims), scope) {
		return Operator{}, bulkerr.New(bulkerr.Forbidden, "operator routes need a token with the %q scope; a tenant administrator's token has none", scope)
	}
	for _, k := range []string{"email", "sub", "client_id"} {
		if v, _ := claims[k].(string); strings.TrimSpace(v) != "" {
			return Operator{Name: strings.TrimSpace(v)}, nil
		}
	}
	return Operator{}, bulkerr.New(bulkerr.Unauthenticated, "the token names no operator (email, sub or client_id claim)")
}

// IdentifyOperator implements OperatorAuthenticator with the claims API
// Gateway's JWT authorizer verified (which, on the operator routes, has
// already required the scope: this is the second check).
func (c Claims) IdentifyOperator(r *http.Request) (Operator, error) {
	raw, ok := r.Context().Value(claimsKey{}).(map[string]string)
	if !ok {
		return Operator{}, bulkerr.New(bulkerr.Unauthenticated, "no verified identity; call the API with a bearer token")
	}
	claims := make(map[string]any, len(raw))
	for k, v := range raw {
		claims[k] = v
	}
	// API Gateway passes a list claim (scp) as "[a b]".
	if scp, ok := claims["scp"].(string); ok {
		claims["scp"] = strings.Trim(scp, "[]")
	}
	return operatorFromClaims(claims, operatorScope(c.OperatorScope))
}

// IdentifyOperator implements OperatorAuthenticator by verifying the
// bearer token itself.
func (v Verifier) IdentifyOperator(r *http.Request) (Operator, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return Operator{}, bulkerr.New(bulkerr.Unauthenticated, "missing bearer token; send Authorization: Bearer <token>")
	}
	claims, err := TokenPolicy{Issuer: v.Issuer, Audiences: []string{v.Audience}, Keys: v.Keys, Now: v.Now}.Verify(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return Operator{}, err
	}
	return operatorFromClaims(claims, operatorScope(v.OperatorScope))
}

// LocalOperatorClaims are the claims of a local operator's access token:
// the operator scope (scope; "" is DefaultOperatorScope) and no tenant.
func LocalOperatorClaims(issuer, user, scope string, now time.Time, ttl time.Duration) map[string]any {
	return map[string]any{
		"iss": issuer, "aud": LocalAudience, "client_id": LocalAudience, "token_use": "access",
		"sub": LocalSubject("", user), "email": user, "scope": "openid email " + operatorScope(scope),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
	}
}

// LocalOperatorToken signs a local operator's access token (`bulkops token
// --operator`, tests).
func LocalOperatorToken(ks *KeySet, issuer, user, scope string, ttl time.Duration) (string, error) {
	return ks.Sign(LocalOperatorClaims(issuer, user, scope, time.Now(), ttl))
}

// ValidTenant reports whether s looks like a tenant ID (what a tenant
// claim, or an operator route's path, may name).
func ValidTenant(s string) bool { return tenantPattern.MatchString(s) }
