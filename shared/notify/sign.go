package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a webhook's signature:
//
//	Bulkops-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// The HMAC's key is the tenant's signing secret and its message is the
// timestamp, a dot and the request body as sent: "<t>.<body>".
const SignatureHeader = "Bulkops-Signature"

// NoticeIDHeader repeats the payload's id, so a receiver can drop a repeat
// before reading the body.
const NoticeIDHeader = "Bulkops-Notice-Id"

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock in Verify when the receiver passes no tolerance.
const DefaultTolerance = 5 * time.Minute

// maxSignatureHeader bounds the header a receiver parses.
const (
	maxSignatureHeader = 4096
	maxSignatures      = 8
)

// The errors of ParseSignature and Verify.
var (
	ErrNoSignature    = errors.New("no Bulkops-Signature header")
	ErrBadSignature   = errors.New("malformed Bulkops-Signature header")
	ErrExpired        = errors.New("the signature's timestamp is outside the tolerance")
	ErrWrongSignature = errors.New("the signature does not match the body")
)

// Signature is a parsed Bulkops-Signature header.
type Signature struct {
	// Timestamp is the t= value, in Unix seconds.
	Timestamp int64
	// V1 are the v1= values (HMAC-SHA256 digests); a sender rotating its
	// secret may send one per secret.
	V1 [][]byte
}

// Sign returns the header value for body signed with secret at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := t.Unix()
	return fmt.Sprintf("t=%d,v1=%s", ts, hex.EncodeToString(mac(secret, ts, body)))
}

func mac(secret []byte, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(strconv.FormatInt(ts, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// ParseSignature reads a Bulkops-Signature header: comma-separated
// key=value items, exactly one t (decimal Unix seconds), at least one v1
// (64 hex digits); unknown keys are ignored (later schemes).
func ParseSignature(header string) (Signature, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return Signature{}, ErrNoSignature
	}
	if len(header) > maxSignatureHeader {
		return Signature{}, fmt.Errorf("%w: longer than %d bytes", ErrBadSignature, maxSignatureHeader)
	}
	var sig Signature
	seenT := false
	for _, item := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || k == "" {
			return Signature{}, fmt.Errorf("%w: item %q is not key=value", ErrBadSignature, item)
		}
		switch k {
		case "t":
			if seenT {
				return Signature{}, fmt.Errorf("%w: more than one t", ErrBadSignature)
			}
			seenT = true
			if v == "" || len(v) > 12 || strings.TrimLeft(v, "0123456789") != "" {
				return Signature{}, fmt.Errorf("%w: t=%q is not Unix seconds", ErrBadSignature, v)
			}
			ts, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return Signature{}, fmt.Errorf("%w: t=%q is not Unix seconds", ErrBadSignature, v)
			}
			sig.Timestamp = ts
		case "v1":
			if len(sig.V1) == maxSignatures {
				return Signature{}, fmt.Errorf("%w: more than %d signatures", ErrBadSignature, maxSignatures)
			}
			d, err := hex.DecodeString(v)
			if err != nil || len(d) != sha256.Size {
				return Signature{}, fmt.Errorf("%w: v1 is not %d hex digits", ErrBadSignature, 2*sha256.Size)
			}
			sig.V1 = append(sig.V1, d)
		}
	}
	if !seenT {
		return Signature{}, fmt.Errorf("%w: no t", ErrBadSignature)
	}
	if len(sig.V1) == 0 {
		return Signature{}, fmt.Errorf("%w: no v1", ErrBadSignature)
	}
	return sig, nil
}

// Verify checks a received webhook: header is its Bulkops-Signature, body
// the request body exactly as received, now the receiver's clock. The
// timestamp must be within tolerance of now (DefaultTolerance when
// tolerance is 0), which bounds replays, and one v1 must be the HMAC of
// "<t>.<body>" under secret (compared in constant time).
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	sig, err := ParseSignature(header)
	if err != nil {
		return err
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	age := now.Sub(time.Unix(sig.Timestamp, 0))
	if age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now (tolerance %s)", ErrExpired,
			time.Unix(sig.Timestamp, 0).UTC().Format(time.RFC3339), age.Round(time.Second), tolerance)
	}
	want := mac(secret, sig.Timestamp, body)
	for _, got := range sig.V1 {
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrWrongSignature
}
