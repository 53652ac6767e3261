package apiclient

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkapi"
)

// UploadError is an upload that storage refused, said as a sentence; the
// storage service's own (XML) answer is kept for logs only.
type UploadError struct {
	Status int
	// Code is the storage service's error code (EntityTooLarge,
	// AccessDenied, ...), if it sent one.
	Code     string
	Sentence string
}

func (e *UploadError) Error() string { return e.Sentence }

// s3Error is the XML error document S3 (and MinIO) answer with.
type s3Error struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// storageSentence says in words why storage refused a request, from its
// status and XML error body; maxBytes (if known) is the upload's limit.
func storageSentence(status int, body []byte, maxBytes int64) string {
	var e s3Error
	_ = xml.Unmarshal(bytes.TrimSpace(body), &e)
	msg := strings.ToLower(e.Message)
	limit := "the size limit"
	if maxBytes > 0 {
		limit = fmt.Sprintf("the limit of %s", HumanBytes(maxBytes))
	}
	switch {
	case e.Code == "EntityTooLarge":
		return fmt.Sprintf("the file is larger than %s; split it into smaller files", limit)
	case e.Code == "EntityTooSmall":
		return "the file is empty; there is nothing to import"
	case e.Code == "AccessDenied" && strings.Contains(msg, "expired"),
		e.Code == "ExpiredToken", e.Code == "TokenRefreshRequired":
		return "the upload form has expired (it works for 15 minutes); run the command again"
	case e.Code == "AccessDenied" && strings.Contains(msg, "policy"):
		return "storage refused the upload: it does not match the form the API issued (file name, size or fields changed); run the command again"
	case e.Code == "AccessDenied", e.Code == "InvalidAccessKeyId", e.Code == "SignatureDoesNotMatch":
		return "storage refused the upload: the upload form is not (or no longer) valid; run the command again, and if it keeps failing ask the service's operator"
	case e.Code == "RequestTimeout", e.Code == "IncompleteBody":
		return "storage closed the upload because the file arrived too slowly or incompletely; check the network and try again"
	case e.Code == "SlowDown", e.Code == "ServiceUnavailable", e.Code == "InternalError", status >= 500:
		return "storage is busy or failing right now; try again in a minute"
	case e.Code == "NoSuchBucket", e.Code == "NoSuchKey":
		return "storage has no place for the upload (the service is misconfigured); tell the service's operator"
	case e.Code == "InvalidArgument", e.Code == "MalformedPOSTRequest", e.Code == "InvalidRequest":
		return "storage refused the upload as malformed; run the command again, and if it keeps failing report it"
	case e.Code != "":
		return fmt.Sprintf("storage refused the upload (%s, HTTP %d)", e.Code, status)
	}
	return fmt.Sprintf("storage refused the request (HTTP %d %s)", status, http.StatusText(status))
}

// HumanBytes writes n as B, KB, MB or GB (powers of 1024, one decimal).
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for f >= unit && i < 3 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", f, [...]string{"B", "KB", "MB", "GB"}[i])
}

// Progress is told how many of the file's bytes have been sent.
type Progress func(sent, total int64)

// UploadFile posts a file of size bytes, read from r, through the
// presigned form, streamed (never held in memory), telling progress as it
// goes. ctx bounds the upload (a timeout, Ctrl-C); storage keeps nothing
// of an upload that did not finish. A refusal is an *UploadError.
func (c *Client) UploadFile(ctx context.Context, up bulkapi.Upload, fileName string, r io.Reader, size, maxBytes int64, progress Progress) error {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	for k, v := range up.Fields {
		if err := mw.WriteField(k, v); err != nil {
			return err
		}
	}
	if _, err := mw.CreateFormFile("file", fileName); err != nil {
		return err
	}
	pre := bytes.Clone(head.Bytes())
	head.Reset()
	if err := mw.Close(); err != nil {
		return err
	}
	trailer := head.Bytes()
	counted := &countingReader{r: io.LimitReader(r, size), total: size, progress: progress}
	body := io.MultiReader(bytes.NewReader(pre), counted, bytes.NewReader(trailer))
	req, err := http.NewRequestWithContext(ctx, "POST", up.URL, body)
	if err != nil {
		return fmt.Errorf("the upload address is not a URL: %v", err)
	}
	req.ContentLength = int64(len(pre)) + size + int64(len(trailer))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	hc := c.UploadHTTP
	if hc == nil {
		hc = &http.Client{}
	}
	resp, err := hc.Do(req)
	if err != nil {
		switch {
		case errors.Is(ctx.Err(), context.Canceled):
			return context.Canceled
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return fmt.Errorf("the upload did not finish in time (%s of %s sent); check the network, or allow more with --upload-timeout: %w",
				HumanBytes(counted.sent), HumanBytes(size), context.DeadlineExceeded)
		}
		return &UnreachableError{URL: req.URL.Scheme + "://" + req.URL.Host, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		var e s3Error
		_ = xml.Unmarshal(bytes.TrimSpace(msg), &e)
		return &UploadError{Status: resp.StatusCode, Code: e.Code, Sentence: storageSentence(resp.StatusCode, msg, maxBytes)}
	}
	if counted.sent != size {
		return fmt.Errorf("the file changed while it was uploaded (%d of %d bytes read); upload it again", counted.sent, size)
	}
	return nil
}

// Upload posts file (in memory) through the presigned form.
func (c *Client) Upload(ctx context.Context, up bulkapi.Upload, fileName string, file []byte) error {
	return c.UploadFile(ctx, up, fileName, bytes.NewReader(file), int64(len(file)), 0, nil)
}

// countingReader tells progress as the file is read.
type countingReader struct {
	r        io.Reader
	sent     int64
	total    int64
	progress Progress
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.sent += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(c.sent, c.total)
	}
	return n, err
}

// UploadTimeout is how long an upload of size bytes may take: two minutes
// plus the time the file needs at 256 KB/s (a slow office line), so a
// 500 MB file gets about 35 minutes and a small one never waits long.
func UploadTimeout(size int64) time.Duration {
	return 2*time.Minute + time.Duration(size/(256<<10))*time.Second
}
