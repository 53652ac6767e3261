package authn

import (
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
	"math/big"
	"os"
	"path/filepath"
	"sync"
)

// SigningKey is one RSA key of a KeySet with its key ID (kid).
type SigningKey struct {
	ID      string
	Private *rsa.PrivateKey
}

// KeyID is the RFC 7638 thumbprint of an RSA public key, base64url: the
// kid the local issuer gives the key in its JWKS and token headers.
func KeyID(pub *rsa.PublicKey) string {
	// Members in lexicographic order, no whitespace (RFC 7638 section 3).
	doc := `{"e":"` + b64(big.NewInt(int64(pub.E)).Bytes()) + `","kty":"RSA","n":"` + b64(pub.N.Bytes()) + `"}`
	sum := sha256.Sum256([]byte(doc))
	return b64(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// KeySet is the local issuer's signing keys: the current key, which signs
// new tokens, and the previous one, which still verifies the tokens it
// signed. Both are published in the JWKS. Rotate makes a new current key
// and drops the oldest, as an identity provider rotates its keys.
//
// The set lives in one PEM file (PKCS#8 blocks, current first) that the
// dev server and `bulkops token` share.
type KeySet struct {
	mu   sync.RWMutex
	keys []SigningKey // current first; at most 2
	path string       // "" for a set kept in memory only
}

// keysKept is how many keys a set publishes: the current and the previous.
const keysKept = 2

// NewKeySet returns a set of two fresh keys kept in memory (tests).
func NewKeySet() (*KeySet, error) {
	ks := &KeySet{}
	for range keysKept {
		k, err := newKey()
		if err != nil {
			return nil, err
		}
		ks.keys = append(ks.keys, k)
	}
	return ks, nil
}

// LoadOrCreateKeySet reads the key set from path, creating the file (mode
// 0600) or completing it to two keys when it holds fewer; a file written by
// earlier versions with one key keeps that key as the current one.
func LoadOrCreateKeySet(path string) (*KeySet, error) {
	ks := &KeySet{path: path}
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for len(raw) > 0 {
		var block *pem.Block
		block, raw = pem.Decode(raw)
		if block == nil {
			break
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: not an RSA key", path)
		}
		ks.keys = append(ks.keys, SigningKey{ID: KeyID(&rk.PublicKey), Private: rk})
	}
	if len(ks.keys) >= keysKept {
		ks.keys = ks.keys[:keysKept]
		return ks, nil
	}
	for len(ks.keys) < keysKept {
		k, err := newKey()
		if err != nil {
			return nil, err
		}
		ks.keys = append(ks.keys, k)
	}
	return ks, ks.save()
}

func newKey() (SigningKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{ID: KeyID(&k.PublicKey), Private: k}, nil
}

// save writes the set to its file; the caller holds the lock or owns ks.
func (ks *KeySet) save() error {
	if ks.path == "" {
		return nil
	}
	var out []byte
	for _, k := range ks.keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.Private)
		if err != nil {
			return err
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
	}
	if err := os.MkdirAll(filepath.Dir(ks.path), 0o700); err != nil {
		return err
	}
	tmp := ks.path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, ks.path)
}

// Current is the key that signs new tokens.
func (ks *KeySet) Current() SigningKey {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.keys[0]
}

// Keys returns the published keys, current first.
func (ks *KeySet) Keys() []SigningKey {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return append([]SigningKey(nil), ks.keys...)
}

// Rotate makes a new current key; the current one becomes the previous
// (its tokens still verify) and the previous one is dropped (its tokens no
// longer verify). A file-backed set is saved.
func (ks *KeySet) Rotate() error {
	k, err := newKey()
	if err != nil {
		return err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.keys = append([]SigningKey{k}, ks.keys[:keysKept-1]...)
	return ks.save()
}

// Sign makes an RS256 token with claims, signed by the current key, its kid
// in the header.
func (ks *KeySet) Sign(claims map[string]any) (string, error) {
	return Sign(ks.Current().Private, claims)
}

// JWK is one public key of a JSON Web Key Set (RFC 7517).
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWKS is a JSON Web Key Set document.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the set's public keys as a JWKS document.
func (ks *KeySet) JWKS() JWKS {
	var doc JWKS
	for _, k := range ks.Keys() {
		doc.Keys = append(doc.Keys, PublicJWK(&k.Private.PublicKey))
	}
	return doc
}

// PublicJWK describes an RSA public key as a JWK.
func PublicJWK(pub *rsa.PublicKey) JWK {
	return JWK{Kty: "RSA", Use: "sig", Alg: "RS256", Kid: KeyID(pub), N: b64(pub.N.Bytes()), E: b64(big.NewInt(int64(pub.E)).Bytes())}
}

// PublicKey decodes an RSA JWK.
func (j JWK) PublicKey() (*rsa.PublicKey, error) {
	if j.Kty != "RSA" {
		return nil, fmt.Errorf("key %q: kty %q is not RSA", j.Kid, j.Kty)
	}
	n, err1 := base64.RawURLEncoding.DecodeString(j.N)
	e, err2 := base64.RawURLEncoding.DecodeString(j.E)
	if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
		return nil, fmt.Errorf("key %q: n or e is not base64url", j.Kid)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if pub.N.BitLen() < 2048 {
		return nil, fmt.Errorf("key %q: %d-bit modulus is too short", j.Kid, pub.N.BitLen())
	}
	return pub, nil
}

// Sign makes an RS256 token with claims, its kid in the header.
func Sign(key *rsa.PrivateKey, claims map[string]any) (string, error) {
	enc := func(v any) (string, error) {
		b, err := json.Marshal(v)
		return b64(b), err
	}
	h, err := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": KeyID(&key.PublicKey)})
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
	return h + "." + c + "." + b64(sig), nil
}
