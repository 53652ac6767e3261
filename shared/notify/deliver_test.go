package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Attempts: 6, Base: time.Second, Max: 8 * time.Second}
	cases := []struct {
		n        int
		r        float64
		min, max time.Duration
	}{
		{0, 0.5, 0, 0},
		{1, 0, 500 * time.Millisecond, 500 * time.Millisecond},
		{1, 0.999, 500 * time.Millisecond, time.Second},
		{2, 0, time.Second, time.Second},
		{3, 0.999, 2 * time.Second, 4 * time.Second},
		{4, 0.5, 4 * time.Second, 8 * time.Second},
		{5, 0.999, 4 * time.Second, 8 * time.Second}, // capped at Max
		{40, 0.999, 4 * time.Second, 8 * time.Second},
	}
	for _, c := range cases {
		b.Rand = func() float64 { return c.r }
		if d := b.Delay(c.n); d < c.min || d > c.max {
			t.Errorf("Delay(%d) with rand %v = %v, want %v..%v", c.n, c.r, d, c.min, c.max)
		}
	}
}

// hookServer is a real HTTPS server on 127.0.0.1 answering the statuses
// it is given in turn (then 204), recording each request.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	bodies   []string
	sigs     []string
	ids      []string
}

func newHookServer(t *testing.T, statuses ...int) *hookServer {
	h := &hookServer{statuses: statuses}
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		h.sigs = append(h.sigs, r.Header.Get(SignatureHeader))
		h.ids = append(h.ids, r.Header.Get(NoticeIDHeader))
		status := http.StatusNoContent
		if len(h.statuses) > 0 {
			status, h.statuses = h.statuses[0], h.statuses[1:]
		}
		h.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "3")
		}
		if status == http.StatusFound {
			w.Header().Set("Location", "https://127.0.0.1:1/elsewhere")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

// client trusts the test server's certificate, through the webhook
// client's own guarded dialer (which allows 127.0.0.1 only by policy).
func (h *hookServer) client() *http.Client {
	c := NewWebhookClient(Policy{AllowLoopbackHTTP: true})
	tr := c.Transport.(*http.Transport)
	tr.TLSClientConfig = &tls.Config{RootCAs: h.Server.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	return c
}

// sleeps records the waits and advances a fake clock by them.
type sleeps struct {
	now   time.Time
	waits []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.waits = append(s.waits, d)
	s.now = s.now.Add(d)
	return nil
}

func TestWebhookPost(t *testing.T) {
	secret := []byte("s3cret")
	body := []byte(`{"id":"ev-1"}`)
	half := func() float64 { return 0.5 }
	cases := []struct {
		name      string
		statuses  []int
		delivered bool
		permanent bool
		attempts  int
		waits     []time.Duration
	}{
		{"first try", nil, true, false, 1, nil},
		{"500 twice, then success", []int{500, 503}, true, false, 3, []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond}},
		{"408 and 429 are retried; Retry-After honoured", []int{408, 429}, true, false, 3, []time.Duration{750 * time.Millisecond, 3 * time.Second}},
		{"400 is not retried", []int{400}, false, true, 1, nil},
		{"410 is not retried", []int{410}, false, true, 1, nil},
		{"a redirect is not followed", []int{302}, false, true, 1, nil},
		{"gives up after 4 attempts", []int{500, 500, 500, 500, 500}, false, false, 4,
			[]time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newHookServer(t, c.statuses...)
			s := &sleeps{now: time.Unix(1_790_000_000, 0)}
			w := Webhooks{Client: srv.client(), Backoff: Backoff{Attempts: 4, Base: time.Second, Max: 4 * time.Second, Rand: half},
				Sleep: s.sleep, Now: func() time.Time { return s.now }}
			d, err := w.Post(context.Background(), srv.URL+"/hook", secret, "ev-1", body)
			if d.Delivered != c.delivered || d.Permanent != c.permanent || len(d.Attempts) != c.attempts {
				t.Fatalf("delivery %+v (%v), want delivered %v permanent %v after %d attempts", d, err, c.delivered, c.permanent, c.attempts)
			}
			if c.delivered != (err == nil) || (err != nil && !errors.Is(err, ErrNotDelivered)) {
				t.Fatalf("error %v", err)
			}
			if len(s.waits) != len(c.waits) {
				t.Fatalf("waits %v, want %v", s.waits, c.waits)
			}
			for i := range c.waits {
				if s.waits[i] != c.waits[i] {
					t.Fatalf("waits %v, want %v", s.waits, c.waits)
				}
			}
			// Every try is signed afresh with the time it was sent, and
			// verifies at that time.
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if len(srv.bodies) != c.attempts {
				t.Fatalf("server saw %d requests, want %d", len(srv.bodies), c.attempts)
			}
			sent := time.Unix(1_790_000_000, 0)
			for i := range srv.bodies {
				if i > 0 {
					sent = sent.Add(s.waits[i-1])
				}
				if err := Verify(secret, srv.sigs[i], []byte(srv.bodies[i]), sent, time.Second); err != nil {
					t.Errorf("try %d: %v", i+1, err)
				}
				if srv.ids[i] != "ev-1" {
					t.Errorf("try %d: notice id %q", i+1, srv.ids[i])
				}
			}
		})
	}
}

// TestWebhookClientRefusesPrivateAddresses: the dialer refuses loopback
// (unless allowed), private and link-local addresses, so a webhook cannot
// reach into the service's network or the instance metadata.
func TestWebhookClientRefusesPrivateAddresses(t *testing.T) {
	srv := newHookServer(t)
	for _, c := range []struct {
		name   string
		policy Policy
		url    string
	}{
		{"loopback without the local policy", Policy{}, srv.URL},
		{"private", Policy{AllowLoopbackHTTP: true}, "https://10.1.2.3/hook"},
		{"link-local metadata", Policy{AllowLoopbackHTTP: true}, "http://169.254.169.254/latest/meta-data/"},
		{"other loopback", Policy{AllowLoopbackHTTP: true}, "https://127.0.0.2/"},
		{"IPv6 loopback", Policy{AllowLoopbackHTTP: true}, "https://[::1]/"},
		{"shared address space", Policy{}, "https://100.64.0.1/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := Webhooks{Client: NewWebhookClient(c.policy), Backoff: Backoff{Attempts: 1}}
			d, err := w.Post(context.Background(), c.url, []byte("k"), "ev", []byte("{}"))
			if err == nil || d.Delivered || !strings.Contains(d.Attempts[0].Error, "not a public address") {
				t.Fatalf("delivery %+v, %v: want a refused address", d, err)
			}
		})
	}
}

func TestWebhookPostStopsWithTheContext(t *testing.T) {
	srv := newHookServer(t, 500, 500)
	ctx, cancel := context.WithCancel(context.Background())
	w := Webhooks{Client: srv.client(), Backoff: Backoff{Attempts: 3, Base: time.Hour, Max: time.Hour},
		Sleep: func(ctx context.Context, d time.Duration) error { cancel(); return Sleep(ctx, d) }}
	d, err := w.Post(ctx, srv.URL, []byte("k"), "ev", []byte("{}"))
	if err == nil || d.Delivered || len(d.Attempts) != 1 || !strings.Contains(err.Error(), "stopped waiting") {
		t.Fatalf("delivery %+v, %v", d, err)
	}
}
