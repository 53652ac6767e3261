package authn

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// RemoteJWKS resolves keys the way API Gateway's JWT authorizer does: it
// reads the issuer's discovery document
// (<issuer>/.well-known/openid-configuration), fetches the JWKS at its
// jwks_uri over HTTP, and looks keys up by kid. Keys are cached for MaxAge
// (default 10 minutes; a key rotated out keeps verifying until then, as
// with any caching verifier); a kid not in the cache fetches the JWKS again
// (a new key), at most once per MinRefresh.
type RemoteJWKS struct {
	Issuer     string
	HTTP       *http.Client
	MinRefresh time.Duration
	MaxAge     time.Duration

	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	fetched time.Time
}

// PublicKey implements KeyResolver.
func (r *RemoteJWKS) PublicKey(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	maxAge := r.MaxAge
	if maxAge == 0 {
		maxAge = 10 * time.Minute
	}
	if time.Since(r.fetched) >= maxAge {
		r.keys = nil
	}
	if k, ok := r.keys[kid]; ok {
		return k, nil
	}
	if r.keys == nil || time.Since(r.fetched) >= r.MinRefresh {
		if err := r.refresh(ctx); err != nil {
			return nil, err
		}
		if k, ok := r.keys[kid]; ok {
			return k, nil
		}
	}
	return nil, bulkerr.New(bulkerr.Unauthenticated, "invalid token: the issuer's JWKS has no key with kid %q", kid)
}

// refresh fetches the discovery document and the JWKS.
func (r *RemoteJWKS) refresh(ctx context.Context) error {
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := r.getJSON(ctx, strings.TrimSuffix(r.Issuer, "/")+"/.well-known/openid-configuration", 64<<10, &disc); err != nil {
		return err
	}
	if disc.Issuer != r.Issuer || disc.JWKSURI == "" {
		return bulkerr.New(bulkerr.Transient, "the discovery document of %s names issuer %q and jwks_uri %q", r.Issuer, disc.Issuer, disc.JWKSURI)
	}
	var set JWKS
	if err := r.getJSON(ctx, disc.JWKSURI, 256<<10, &set); err != nil {
		return err
	}
	keys := map[string]*rsa.PublicKey{}
	for _, j := range set.Keys {
		if j.Kty != "RSA" || (j.Use != "" && j.Use != "sig") || j.Kid == "" {
			continue
		}
		pub, err := j.PublicKey()
		if err != nil {
			continue
		}
		keys[j.Kid] = pub
	}
	r.keys, r.fetched = keys, time.Now()
	return nil
}

func (r *RemoteJWKS) getJSON(ctx context.Context, url string, limit int64, v any) error {
	client := r.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return bulkerr.Wrap(bulkerr.Transient, err, "JWKS of %s", r.Issuer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return bulkerr.Wrap(bulkerr.Transient, err, "JWKS of %s", r.Issuer)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return bulkerr.New(bulkerr.Transient, "GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, limit)).Decode(v); err != nil {
		return bulkerr.Wrap(bulkerr.Transient, fmt.Errorf("GET %s: %w", url, err), "JWKS of %s", r.Issuer)
	}
	return nil
}
