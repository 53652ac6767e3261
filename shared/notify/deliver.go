package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// Backoff is the retry policy of webhook deliveries: at most Attempts
// tries; before try n+1 a wait of Base·2^(n-1), at most Max, of which a
// random half is jitter (so receivers that failed together are not all
// retried at the same instant). A Retry-After answer (seconds) replaces
// the wait when it is not longer than Max.
type Backoff struct {
	Attempts int
	Base     time.Duration
	Max      time.Duration
	// Rand returns a number in [0, 1) for the jitter (math/rand when nil).
	Rand func() float64
}

// DefaultBackoff: 5 tries over about 15 s at most, well within the
// notifier function's timeout.
var DefaultBackoff = Backoff{Attempts: 5, Base: time.Second, Max: 8 * time.Second}

// Delay is the wait before retry n (n = 1 for the second try).
func (b Backoff) Delay(n int) time.Duration {
	if n < 1 {
		return 0
	}
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	half := d / 2
	return half + time.Duration(r()*float64(d-half))
}

// Sleeper waits d or until ctx ends (then it returns ctx's error).
type Sleeper func(ctx context.Context, d time.Duration) error

// Sleep is the real Sleeper.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Webhooks posts signed notices to webhook URLs.
type Webhooks struct {
	// Client sends the requests (NewWebhookClient builds the right one).
	Client  *http.Client
	Backoff Backoff
	Sleep   Sleeper
	Now     func() time.Time
}

// Attempt is what one try got: the HTTP status (0: no answer) or the
// error.
type Attempt struct {
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Delivery is the outcome of one notice to one webhook.
type Delivery struct {
	Delivered bool      `json:"delivered"`
	Attempts  []Attempt `json:"attempts"`
	// Permanent: the receiver refused the notice in a way a retry does not
	// change (a 4xx other than 408 and 429, a redirect).
	Permanent bool `json:"permanent,omitempty"`
}

// ErrNotDelivered is the error of a delivery that failed.
var ErrNotDelivered = errors.New("webhook not delivered")

// Post sends body to url, signed with secret, as the notice id, retrying
// by the backoff. Each try is signed afresh with the time it is sent.
// Network errors, 408, 429 and 5xx are retried; 2xx is success; any other
// answer ends the delivery at once.
func (w Webhooks) Post(ctx context.Context, url string, secret []byte, id string, body []byte) (Delivery, error) {
	var d Delivery
	attempts := max(w.Backoff.Attempts, 1)
	now, sleep := w.Now, w.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = Sleep
	}
	for n := 1; ; n++ {
		status, retryAfter, err := w.try(ctx, url, secret, id, body, now())
		a := Attempt{Status: status}
		if err != nil {
			a.Error = err.Error()
		}
		d.Attempts = append(d.Attempts, a)
		switch {
		case err == nil && status >= 200 && status < 300:
			d.Delivered = true
			return d, nil
		case err == nil && !retryable(status):
			d.Permanent = true
			return d, fmt.Errorf("%w: %s answered %d, which a retry does not change", ErrNotDelivered, url, status)
		}
		if n >= attempts {
			return d, fmt.Errorf("%w: %s failed %d times (last: %s)", ErrNotDelivered, url, n, describe(a))
		}
		wait := w.Backoff.Delay(n)
		if retryAfter > 0 && retryAfter <= w.Backoff.Max {
			wait = retryAfter
		}
		if err := sleep(ctx, wait); err != nil {
			return d, fmt.Errorf("%w: %s: stopped waiting to retry: %v", ErrNotDelivered, url, err)
		}
	}
}

func describe(a Attempt) string {
	if a.Error != "" {
		return a.Error
	}
	return "HTTP " + strconv.Itoa(a.Status)
}

// retryable says which answers are worth another try.
func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// try sends one signed request and drains a little of the answer (so the
// connection can be reused); the answer's body is never kept or logged.
func (w Webhooks) try(ctx context.Context, url string, secret []byte, id string, body []byte, at time.Time) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "bulkops-notifier/1")
	req.Header.Set(SignatureHeader, Sign(secret, at, body))
	req.Header.Set(NoticeIDHeader, id)
	client := w.Client
	if client == nil {
		client = NewWebhookClient(Policy{})
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	var retryAfter time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return resp.StatusCode, retryAfter, nil
}

// NewWebhookClient returns the HTTP client for webhooks: 10 s per try,
// redirects not followed (a redirect is answered as it came, so a notice
// never lands on a host other than the one the tenant set), and a dialer
// that refuses loopback, private, link-local and other non-public
// addresses (a webhook URL must not reach into the service's own network),
// except 127.0.0.1 when p allows loopback (the local stack and tests).
func NewWebhookClient(p Policy) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip := net.ParseIP(host)
		if ip == nil {
			return fmt.Errorf("webhook address %s is not an IP address", host)
		}
		if p.AllowLoopbackHTTP && ip.Equal(net.IPv4(127, 0, 0, 1)) {
			return nil
		}
		if !publicIP(ip) {
			return fmt.Errorf("webhook address %s is not a public address", ip)
		}
		return nil
	}}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = dialer.DialContext
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// publicIP reports whether ip is a global unicast address outside the
// private, shared (100.64/10) and documentation ranges.
func publicIP(ip net.IP) bool {
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return false
	}
	for _, cidr := range nonPublic {
		if cidr.Contains(ip) {
			return false
		}
	}
	return true
}

var nonPublic = func() []*net.IPNet {
	var out []*net.IPNet
	for _, s := range []string{"100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "64:ff9b::/96", "2001:db8::/32"} {
		_, n, _ := net.ParseCIDR(s)
		out = append(out, n)
	}
	return out
}()
