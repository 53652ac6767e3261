package authn

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// The local stack's identity provider: the dev server's OIDC issuer (see
// Issuer) on the Lambda/AWS port, and its one client, whose ID is the
// audience of every local token.
const (
	// DefaultLocalIssuer is the issuer URL of the dev server on its
	// default port; BULKOPS_OIDC_ISSUER (infra/local/env.sh) overrides it.
	DefaultLocalIssuer = "http://127.0.0.1:3001/oidc"
	// LocalAudience is the local client ID and token audience.
	LocalAudience = "bulkops-local"
	// LocalScope is the scope of local access tokens.
	LocalScope = "openid email bulkops/api"
)

// LocalIssuer is the local issuer URL: BULKOPS_OIDC_ISSUER or the default.
func LocalIssuer(getenv func(string) string) string {
	if v := strings.TrimSuffix(getenv("BULKOPS_OIDC_ISSUER"), "/"); v != "" {
		return v
	}
	return DefaultLocalIssuer
}

// LocalSubject is the stable subject of a local user of a tenant.
func LocalSubject(tenant, email string) string {
	sum := sha256.Sum256([]byte(tenant + "\x00" + strings.ToLower(email)))
	return "local-" + hex.EncodeToString(sum[:10])
}

// LocalClaims are the claims of a local access token for tenant and user.
func LocalClaims(issuer, tenant, user string, now time.Time, ttl time.Duration) map[string]any {
	return map[string]any{
		"iss": issuer, "aud": LocalAudience, "client_id": LocalAudience, "token_use": "access",
		"sub": LocalSubject(tenant, user), "email": user, DefaultTenantClaim: tenant, "scope": LocalScope,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
	}
}

// LocalToken signs an access token for tenant and user with the set's
// current key, valid for ttl (`bulkops token`, tests).
func LocalToken(ks *KeySet, issuer, tenant, user string, ttl time.Duration) (string, error) {
	return ks.Sign(LocalClaims(issuer, tenant, user, time.Now(), ttl))
}
