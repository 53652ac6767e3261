// Package apiclient calls the bulkops HTTP API: the CLI's transport. It
// speaks the JSON of shared/httpapi and turns problem documents into
// *Problem errors.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// Client calls one API with one bearer token.
type Client struct {
	Base  string // e.g. http://127.0.0.1:3000
	Token string
	HTTP  *http.Client
}

// Problem is an API error (RFC 9457).
type Problem struct {
	Status      int    `json:"status"`
	Code        string `json:"code"`
	Detail      string `json:"detail"`
	ActiveJobID string `json:"activeJobId,omitempty"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%s (%d %s)", p.Detail, p.Status, p.Code) }

// Job is a job with its progress and links.
type Job struct {
	jobs.Job
	Percent    int    `json:"percent"`
	ETASeconds *int64 `json:"etaSeconds,omitempty"`
	Links      *struct {
		Errors  string `json:"errors,omitempty"`
		Results string `json:"results,omitempty"`
	} `json:"links,omitempty"`
}

// Import is the answer to CreateImport.
type Import struct {
	JobID    string         `json:"jobId"`
	FileName string         `json:"fileName"`
	MaxBytes int64          `json:"maxBytes"`
	Upload   s3store.Upload `json:"upload"`
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 60 * time.Second}
}

// do sends a request and decodes the JSON answer into out, or returns the
// problem.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		p := &Problem{Status: resp.StatusCode}
		if json.Unmarshal(raw, p) != nil || p.Detail == "" {
			p.Detail = fmt.Sprintf("%s %s answered %s", method, path, resp.Status)
		}
		return p
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*o = raw
		return nil
	default:
		return json.Unmarshal(raw, out)
	}
}

// CreateImport asks for an upload form.
func (c *Client) CreateImport(ctx context.Context, objectType, fileName string, dryRun bool) (Import, error) {
	var out Import
	err := c.do(ctx, "POST", "/v1/imports", map[string]any{"objectType": objectType, "fileName": fileName, "dryRun": dryRun}, &out)
	return out, err
}

// Upload posts file through the presigned form.
func (c *Client) Upload(ctx context.Context, up s3store.Upload, fileName string, file []byte) error {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range up.Fields {
		if err := mw.WriteField(k, v); err != nil {
			return err
		}
	}
	fw, err := mw.CreateFormFile("file", fileName)
	if err != nil {
		return err
	}
	if _, err := fw.Write(file); err != nil {
		return err
	}
	if err := mw.Close(); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", up.URL, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fmt.Errorf("upload refused: %s %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// CreateExport starts an export of the given types, shaped by opts (the
// zero value is the default export).
func (c *Client) CreateExport(ctx context.Context, types []string, prefix string, opts exportspec.Options) (Job, error) {
	var j Job
	body := struct {
		ObjectTypes []string           `json:"objectTypes"`
		Prefix      string             `json:"prefix,omitempty"`
		Options     exportspec.Options `json:"options,omitzero"` // left out when default, for older servers
	}{types, prefix, opts}
	err := c.do(ctx, "POST", "/v1/exports", body, &j)
	return j, err
}

// Job returns one job.
func (c *Client) Job(ctx context.Context, id string) (Job, error) {
	var j Job
	err := c.do(ctx, "GET", "/v1/jobs/"+url.PathEscape(id), nil, &j)
	return j, err
}

// Jobs returns one page of jobs (filters as in GET /v1/jobs).
func (c *Client) Jobs(ctx context.Context, q url.Values) ([]Job, string, error) {
	var out struct {
		Jobs       []Job  `json:"jobs"`
		NextCursor string `json:"nextCursor"`
	}
	err := c.do(ctx, "GET", "/v1/jobs?"+q.Encode(), nil, &out)
	return out.Jobs, out.NextCursor, err
}

// Template returns the CSV template of objectType.
func (c *Client) Template(ctx context.Context, objectType string, example bool) ([]byte, error) {
	var b []byte
	err := c.do(ctx, "GET", "/v1/object-types/"+url.PathEscape(objectType)+"/template?example="+strconv.FormatBool(example), nil, &b)
	return b, err
}

// Download fetches a presigned link.
func (c *Client) Download(ctx context.Context, link string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", link, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download: %s (links expire after 15 minutes; ask for the job again)", resp.Status)
	}
	return io.ReadAll(resp.Body)
}
