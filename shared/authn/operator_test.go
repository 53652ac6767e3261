package authn

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

func TestOperatorFromClaims(t *testing.T) {
	tests := []struct {
		name   string
		claims map[string]string
		scope  string
		want   string // the operator's name; "" when refused
		kind   bulkerr.Kind
	}{
		{"scope claim", map[string]string{"scope": "openid bulkops/operator", "email": "ops@x.example"}, "", "ops@x.example", ""},
		{"client credentials (no email)", map[string]string{"scope": "bulkops/operator", "sub": "abc123", "client_id": "abc123"}, "", "abc123", ""},
		{"scp list as API Gateway passes it", map[string]string{"scp": "[read bulkops/operator]", "sub": "s"}, "", "s", ""},
		{"configured scope", map[string]string{"scope": "ops.admin", "sub": "s"}, "ops.admin", "s", ""},
		{"configured scope, default sent", map[string]string{"scope": "bulkops/operator", "sub": "s"}, "ops.admin", "", bulkerr.Forbidden},
		{"tenant admin", map[string]string{"scope": "openid email bulkops/api", "tenant": "acme", "email": "a@acme.example"}, "", "", bulkerr.Forbidden},
		{"prefix is not the scope", map[string]string{"scope": "bulkops/operators", "sub": "s"}, "", "", bulkerr.Forbidden},
		{"no scope at all", map[string]string{"tenant": "acme", "sub": "s"}, "", "", bulkerr.Forbidden},
		{"scope but nobody", map[string]string{"scope": "bulkops/operator"}, "", "", bulkerr.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/operator/tenants/acme/settings", nil)
			r = r.WithContext(WithClaims(r.Context(), tt.claims))
			op, err := Claims{OperatorScope: tt.scope}.IdentifyOperator(r)
			if tt.want != "" {
				if err != nil || op.Name != tt.want {
					t.Fatalf("= %+v, %v; want %s", op, err, tt.want)
				}
				return
			}
			if bulkerr.KindOf(err) != tt.kind {
				t.Fatalf("= %+v, %v; want a %s error", op, err, tt.kind)
			}
		})
	}
	// Without verified claims: unauthenticated.
	if _, err := (Claims{}).IdentifyOperator(httptest.NewRequest("GET", "/", nil)); bulkerr.KindOf(err) != bulkerr.Unauthenticated {
		t.Fatalf("no claims: %v", err)
	}
}

// TestLocalOperatorToken: a local operator token verifies, carries the
// scope and names no tenant (so it is no tenant's on the tenant routes).
func TestLocalOperatorToken(t *testing.T) {
	ks, err := NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := LocalOperatorToken(ks, "http://issuer.test", "ops@x.example", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	v := Verifier{Keys: ks, Issuer: "http://issuer.test", Audience: LocalAudience}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	if op, err := v.IdentifyOperator(r); err != nil || op.Name != "ops@x.example" {
		t.Fatalf("operator: %+v %v", op, err)
	}
	if _, err := v.Identify(r); bulkerr.KindOf(err) != bulkerr.Unauthenticated {
		t.Fatalf("an operator token on a tenant route: %v, want Unauthenticated (no tenant)", err)
	}
	admin, err := LocalToken(ks, "http://issuer.test", "acme", "a@acme.example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+admin)
	if _, err := v.IdentifyOperator(r); bulkerr.KindOf(err) != bulkerr.Forbidden {
		t.Fatalf("a tenant admin's token: %v, want Forbidden", err)
	}
}
