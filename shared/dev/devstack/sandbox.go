package devstack

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// On AWS an invocation that runs past its Timeout is stopped with its
// sandbox: whatever the handler would still have done (a deferred write
// under context.WithoutCancel, a cleanup after ctx.Done) never happens,
// and the next attempt finds the state the timed-out one left at its
// deadline. In-process the handler's goroutine cannot be killed, so the
// Lambda server marks the invocation's sandbox stopped at the deadline and
// SandboxHTTP's client refuses every AWS request made for it afterwards: the
// late writes that AWS would never see fail here too.

type sandboxKey struct{}

// sandbox is one invocation's execution environment.
type sandbox struct {
	function, requestID string
	stopped             atomic.Bool
}

// withSandbox gives ctx a fresh, running sandbox for one invocation.
func withSandbox(ctx context.Context, function, requestID string) (context.Context, *sandbox) {
	sb := &sandbox{function: function, requestID: requestID}
	return context.WithValue(ctx, sandboxKey{}, sb), sb
}

// SandboxStopped reports whether ctx belongs to an invocation the Lambda
// server stopped at its timeout (context.WithoutCancel keeps the mark).
func SandboxStopped(ctx context.Context) bool {
	sb, _ := ctx.Value(sandboxKey{}).(*sandbox)
	return sb != nil && sb.stopped.Load()
}

// sandboxClient refuses requests of stopped invocations.
type sandboxClient struct{ next aws.HTTPClient }

// SandboxHTTP wraps an AWS SDK HTTP client so that a request made for an
// invocation stopped at its timeout fails without being sent. The dev
// server wraps the functions' AWS clients with it.
func SandboxHTTP(next aws.HTTPClient) aws.HTTPClient { return sandboxClient{next: next} }

// Do implements aws.HTTPClient.
func (c sandboxClient) Do(r *http.Request) (*http.Response, error) {
	if sb, _ := r.Context().Value(sandboxKey{}).(*sandbox); sb != nil && sb.stopped.Load() {
		return nil, fmt.Errorf("invocation %s of %s timed out and its sandbox was stopped: %s %s not sent",
			sb.requestID, sb.function, r.Method, r.URL.Host)
	}
	return c.next.Do(r)
}
