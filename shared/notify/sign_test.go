package notify

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSignAndVerify(t *testing.T) {
	secret := []byte("whsec-acme-0123456789")
	body := []byte(`{"version":"1","id":"ev-1","tenant":"acme"}`)
	signedAt := time.Unix(1_790_000_000, 0)
	header := Sign(secret, signedAt, body)
	if !strings.HasPrefix(header, "t=1790000000,v1=") || len(header) != len("t=1790000000,v1=")+64 {
		t.Fatalf("header %q", header)
	}
	other := Sign([]byte("another secret"), signedAt, body)
	_, otherV1, _ := strings.Cut(other, ",")
	cases := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		tol    time.Duration
		want   error
	}{
		{"as sent", secret, header, body, signedAt.Add(time.Minute), 0, nil},
		{"clock behind", secret, header, body, signedAt.Add(-4 * time.Minute), 0, nil},
		{"with spaces", secret, strings.ReplaceAll(header, ",", " , "), body, signedAt, 0, nil},
		{"rotating: second v1 matches", secret, "t=1790000000," + otherV1 + "," + strings.Split(header, ",")[1], body, signedAt, 0, nil},
		{"unknown scheme ignored", secret, header + ",v0=zzz", body, signedAt, 0, nil},
		{"tampered body", secret, header, []byte(strings.Replace(string(body), "acme", "acmf", 1)), signedAt, 0, ErrWrongSignature},
		{"body with a trailing newline", secret, header, append(append([]byte{}, body...), '\n'), signedAt, 0, ErrWrongSignature},
		{"other tenant's secret", []byte("globex secret"), header, body, signedAt, 0, ErrWrongSignature},
		{"timestamp changed", secret, strings.Replace(header, "t=1790000000", "t=1790000001", 1), body, signedAt, 0, ErrWrongSignature},
		{"too old", secret, header, body, signedAt.Add(6 * time.Minute), 0, ErrExpired},
		{"too far ahead", secret, header, body, signedAt.Add(-6 * time.Minute), 0, ErrExpired},
		{"own tolerance", secret, header, body, signedAt.Add(30 * time.Second), 10 * time.Second, ErrExpired},
		{"missing", secret, "", body, signedAt, 0, ErrNoSignature},
		{"garbage", secret, "sha256=abc", body, signedAt, 0, ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Verify(c.secret, c.header, c.body, c.now, c.tol)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestParseSignature(t *testing.T) {
	v1 := strings.Repeat("ab", 32)
	cases := []struct {
		header string
		ts     int64
		n      int
		bad    bool
	}{
		{"t=1,v1=" + v1, 1, 1, false},
		{"v1=" + v1 + ",t=1", 1, 1, false},
		{"t=1,v1=" + v1 + ",v1=" + v1, 1, 2, false},
		{"t=1", 0, 0, true},
		{"v1=" + v1, 0, 0, true},
		{"t=,v1=" + v1, 0, 0, true},
		{"t=-1,v1=" + v1, 0, 0, true},
		{"t=+1,v1=" + v1, 0, 0, true},
		{"t=1e3,v1=" + v1, 0, 0, true},
		{"t=9999999999999,v1=" + v1, 0, 0, true},
		{"t=1,t=2,v1=" + v1, 0, 0, true},
		{"t=1,v1=" + v1[:62], 0, 0, true},
		{"t=1,v1=" + strings.Repeat("zz", 32), 0, 0, true},
		{"t=1,,v1=" + v1, 0, 0, true},
		{"t=1,=x,v1=" + v1, 0, 0, true},
		{"t=1" + strings.Repeat(",v1="+v1, 9), 0, 0, true},
		{"t=1,x=" + strings.Repeat("a", 5000), 0, 0, true},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%.40s", c.header), func(t *testing.T) {
			sig, err := ParseSignature(c.header)
			if c.bad {
				if !errors.Is(err, ErrBadSignature) {
					t.Fatalf("error %v, want ErrBadSignature", err)
				}
				return
			}
			if err != nil || sig.Timestamp != c.ts || len(sig.V1) != c.n {
				t.Fatalf("got %+v, %v", sig, err)
			}
		})
	}
}

// FuzzParseSignature: any header parses or is refused with one of the
// package's errors, never panics; what parses has a timestamp of at most
// 12 digits and 1 to 8 digests of 32 bytes, and verifying against it does
// not panic either.
func FuzzParseSignature(f *testing.F) {
	f.Add("t=1790000000,v1=" + strings.Repeat("0f", 32))
	f.Add("v1=" + strings.Repeat("0f", 32) + ", t=1")
	f.Add("t=1,v1=,v1")
	f.Add(",,,=")
	f.Add("t=00000000000000001")
	f.Fuzz(func(t *testing.T, header string) {
		sig, err := ParseSignature(header)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrNoSignature) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if sig.Timestamp < 0 || sig.Timestamp > 999_999_999_999 || len(sig.V1) == 0 || len(sig.V1) > maxSignatures {
			t.Fatalf("parsed %+v", sig)
		}
		for _, d := range sig.V1 {
			if len(d) != 32 {
				t.Fatalf("digest of %d bytes", len(d))
			}
		}
		_ = Verify([]byte("k"), header, []byte("b"), time.Unix(sig.Timestamp, 0), time.Minute)
	})
}
