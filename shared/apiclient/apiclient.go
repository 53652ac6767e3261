// Package apiclient calls the bulkops HTTP API: the CLI's transport. It
// speaks the API's wire types (shared/bulkapi), sends an Idempotency-Key with every
// POST (so it retries a POST that may not have arrived, or got 503, without
// doing anything twice), and turns what can go wrong into typed errors: a
// *Problem for the API's problem documents, an *UnreachableError when the
// API cannot be reached, an *UploadError when storage refuses an upload.
package apiclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/exportspec"
)

// Client calls one API with one bearer token.
type Client struct {
	Base  string // e.g. http://127.0.0.1:3000/dev
	Token string
	// HTTP sends API calls and downloads (default: 60 s per request).
	HTTP *http.Client
	// UploadHTTP sends uploads; it has no timeout of its own, the
	// caller's context bounds an upload (default: the default transport).
	UploadHTTP *http.Client
	// Retries is how often a request that got 503, or did not reach the
	// API, is sent again (0: 2; negative: never).
	Retries int
	// Sleep waits between retries (default: a timer honouring ctx).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Problem is an API error: the problem document (RFC 9457) the API
// answered with, or one made up from the status when it sent none.
type Problem struct {
	bulkapi.Problem
	// RetryAfter is the Retry-After header, if any.
	RetryAfter time.Duration `json:"-"`
	// Raw is the problem document as received.
	Raw json.RawMessage `json:"-"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%s (%d %s)", p.Detail, p.Status, p.Code) }

// UnreachableError is a request that got no answer: the address is wrong,
// the server is down, or the network is.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(e.Err, &dns):
		return fmt.Sprintf("cannot reach %s: the host name %q does not resolve; check --api or the profile's api", e.URL, dns.Name)
	case errors.Is(e.Err, context.DeadlineExceeded) || isTimeout(e.Err):
		return fmt.Sprintf("cannot reach %s: no answer in time; check the address and the network", e.URL)
	case errors.As(e.Err, &op) && op.Op == "dial":
		return fmt.Sprintf("cannot reach %s: nothing answers there (is the API up? locally: make stack-up)", e.URL)
	}
	return fmt.Sprintf("cannot reach %s: %v", e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// Job is a job with its progress and links.
type Job struct {
	bulkapi.Job
	// Raw is the job document as received.
	Raw json.RawMessage `json:"-"`
}

// Import is the answer to CreateImport: where to upload the file.
type Import struct {
	bulkapi.Import
	Raw json.RawMessage `json:"-"`
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 60 * time.Second}
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NewKey returns a fresh idempotency key (a random UUID).
func NewKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Do sends a request to the API and decodes the JSON answer into out (if
// not nil; a *[]byte gets the body as it is); it returns the body. A POST
// carries a fresh Idempotency-Key, kept across its retries.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) ([]byte, error) {
	return c.DoWithHeaders(ctx, method, path, nil, body, out)
}

// DoWithHeaders is Do with extra request headers (If-Match).
func (c *Client) DoWithHeaders(ctx context.Context, method, path string, header map[string]string, body, out any) ([]byte, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	key := ""
	if method == http.MethodPost {
		key = NewKey()
	}
	retries := c.Retries
	if retries == 0 {
		retries = 2
	}
	for attempt := 0; ; attempt++ {
		raw, wait, err := c.once(ctx, method, path, payload, key, header)
		if err == nil {
			return raw, decode(raw, out)
		}
		if wait < 0 || attempt >= retries || ctx.Err() != nil {
			return raw, err
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// once sends one request; wait >= 0 says the error is worth retrying
// after that long.
func (c *Client) once(ctx context.Context, method, path string, payload []byte, key string, header map[string]string) ([]byte, time.Duration, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return nil, -1, fmt.Errorf("the API address %q is not a URL: %v", c.Base, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json, application/problem+json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, -1, ctx.Err()
		}
		// Without an answer the request may or may not have arrived; a
		// POST is safe to send again under its key, a GET always is.
		return nil, time.Second, &UnreachableError{URL: c.Base, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, time.Second, &UnreachableError{URL: c.Base, Err: err}
	}
	if resp.StatusCode < 300 {
		return raw, 0, nil
	}
	p := &Problem{Problem: bulkapi.Problem{Status: resp.StatusCode}}
	if json.Unmarshal(raw, p) != nil || p.Detail == "" {
		p = &Problem{Problem: bulkapi.Problem{Status: resp.StatusCode, Detail: fmt.Sprintf("%s %s answered %s", method, path, resp.Status)}}
	} else {
		p.Raw = raw
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		p.RetryAfter = time.Duration(s) * time.Second
	}
	wait := time.Duration(-1)
	if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout {
		wait = min(max(p.RetryAfter, time.Second), 10*time.Second)
	}
	return raw, wait, p
}

func decode(raw []byte, out any) error {
	switch o := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*o = raw
		return nil
	default:
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("the API's answer is not the expected JSON: %v", err)
		}
		return nil
	}
}

// CreateImport asks for an upload form.
func (c *Client) CreateImport(ctx context.Context, objectType, fileName string, dryRun bool) (Import, error) {
	var out Import
	raw, err := c.Do(ctx, "POST", "/v1/imports", bulkapi.ImportRequest{ObjectType: objectType, FileName: fileName, DryRun: dryRun}, &out)
	out.Raw = raw
	return out, err
}

// CreateExport starts an export of the given types, shaped by opts (the
// zero value is the default export).
func (c *Client) CreateExport(ctx context.Context, types []string, prefix string, opts exportspec.Options) (Job, error) {
	return c.job(ctx, "POST", "/v1/exports", bulkapi.ExportRequest{ObjectTypes: types, Prefix: prefix, Options: opts})
}

// StartExport starts the export req describes (types, prefix, options
// and, with TargetID, the delivery target its file goes to).
func (c *Client) StartExport(ctx context.Context, req bulkapi.ExportRequest) (Job, error) {
	return c.job(ctx, "POST", "/v1/exports", req)
}

func (c *Client) job(ctx context.Context, method, path string, body any) (Job, error) {
	var j Job
	raw, err := c.Do(ctx, method, path, body, &j)
	j.Raw = raw
	return j, err
}

// Job returns one job.
func (c *Client) Job(ctx context.Context, id string) (Job, error) {
	return c.job(ctx, "GET", "/v1/jobs/"+url.PathEscape(id), nil)
}

// CancelJob cancels a job that is New or In Progress (POST
// /v1/jobs/{id}/cancel) and returns it as it ended (Cancelled). A job that
// has ended is a 409 Problem.
func (c *Client) CancelJob(ctx context.Context, id string) (Job, error) {
	return c.job(ctx, "POST", "/v1/jobs/"+url.PathEscape(id)+"/cancel", nil)
}

// Retry is the answer to a retry: the new job's ID and what its file holds.
type Retry struct {
	bulkapi.Retry
	Raw json.RawMessage `json:"-"`
}

// RetryJob starts a new import over the rejected rows of a finished import
// (POST /v1/jobs/{id}/retry); dryRun nil retries as the job ran. A job
// that cannot be retried is a 409 Problem.
func (c *Client) RetryJob(ctx context.Context, id string, dryRun *bool) (Retry, error) {
	var out Retry
	raw, err := c.Do(ctx, "POST", "/v1/jobs/"+url.PathEscape(id)+"/retry", bulkapi.RetryRequest{DryRun: dryRun}, &out)
	out.Raw = raw
	return out, err
}

// JobPage is one page of jobs.
type JobPage struct {
	bulkapi.JobPage
	Raw json.RawMessage `json:"-"`
}

// JobsPage returns one page of jobs (filters, limit and cursor as in GET
// /v1/jobs).
func (c *Client) JobsPage(ctx context.Context, q url.Values) (JobPage, error) {
	var out JobPage
	raw, err := c.Do(ctx, "GET", "/v1/jobs?"+q.Encode(), nil, &out)
	out.Raw = raw
	return out, err
}

// Jobs returns one page of jobs and the cursor of the next.
func (c *Client) Jobs(ctx context.Context, q url.Values) ([]bulkapi.Job, string, error) {
	p, err := c.JobsPage(ctx, q)
	return p.Jobs, p.NextCursor, err
}

// Template returns the CSV template of objectType.
func (c *Client) Template(ctx context.Context, objectType string, example bool) ([]byte, error) {
	var b []byte
	_, err := c.Do(ctx, "GET", "/v1/object-types/"+url.PathEscape(objectType)+"/template?example="+strconv.FormatBool(example), nil, &b)
	return b, err
}

// ObjectType is an object type with its columns.
type ObjectType struct {
	bulkapi.ObjectType
	Raw json.RawMessage `json:"-"`
}

// TypePage is one page of object types.
type TypePage struct {
	bulkapi.TypePage
	Raw json.RawMessage `json:"-"`
}

// Types returns a page of object types (cursor "" for the first).
func (c *Client) Types(ctx context.Context, cursor string) (TypePage, error) {
	var out TypePage
	raw, err := c.Do(ctx, "GET", pagePath("/v1/object-types", cursor), nil, &out)
	out.Raw = raw
	return out, err
}

// Type returns one object type (slug, alias or name).
func (c *Client) Type(ctx context.Context, name string) (ObjectType, error) {
	var out ObjectType
	raw, err := c.Do(ctx, "GET", "/v1/object-types/"+url.PathEscape(name), nil, &out)
	out.Raw = raw
	return out, err
}

// Download fetches a presigned link.
func (c *Client) Download(ctx context.Context, link string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", link, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &UnreachableError{URL: req.URL.Scheme + "://" + req.URL.Host, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("download refused: %s (links work for 15 minutes; ask for the job again)", storageSentence(resp.StatusCode, msg, 0))
	}
	return io.ReadAll(resp.Body)
}

// pagePath is a list route's path for the page cursor names ("": the
// first).
func pagePath(route, cursor string) string {
	if cursor == "" {
		return route
	}
	return route + "?cursor=" + url.QueryEscape(cursor)
}

// itemPath is the path of one item of a collection route, or of an action
// on it ("": the item itself).
func itemPath(route, id, action string) string {
	p := route + "/" + url.PathEscape(id)
	if action != "" {
		p += "/" + action
	}
	return p
}
