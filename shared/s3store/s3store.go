// Package s3store reads and writes the service's files in its S3 bucket:
// uploads, error and results reports, export files, and presigned links.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/ccbulk/bulkops/shared/blob"
	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Store is one bucket.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
}

// New returns a Store for bucket.
func New(client *s3.Client, bucket string) *Store {
	return &Store{client: client, presign: s3.NewPresignClient(client), bucket: bucket}
}

// Bucket returns the bucket name.
func (st *Store) Bucket() string { return st.bucket }

func classify(err error, doing string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(doing, args...)
	var nsk *s3types.NoSuchKey
	var nf *s3types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return bulkerr.Wrap(bulkerr.NotFound, err, "%s: the file does not exist", what)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchVersion":
			return bulkerr.Wrap(bulkerr.NotFound, err, "%s: the file does not exist", what)
		case "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout":
			return bulkerr.Wrap(bulkerr.Transient, err, "%s: storage is busy, try again", what)
		case "InvalidRange":
			return bulkerr.Wrap(bulkerr.Invalid, err, "%s: the byte range is outside the file", what)
		}
		return bulkerr.Wrap(bulkerr.Internal, err, "%s", what)
	}
	return bulkerr.Wrap(bulkerr.Transient, err, "%s", what)
}

// Head returns an object's size, ETag, version and user metadata.
func (st *Store) Head(ctx context.Context, key string) (blob.Info, error) {
	return st.HeadVersion(ctx, key, "")
}

// HeadVersion is Head of one version of the object ("" for the current).
func (st *Store) HeadVersion(ctx context.Context, key, versionID string) (blob.Info, error) {
	in := &s3.HeadObjectInput{Bucket: &st.bucket, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := st.client.HeadObject(ctx, in)
	if err != nil {
		return blob.Info{}, classify(err, "reading %s", key)
	}
	return blob.Info{
		Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag),
		VersionID: aws.ToString(out.VersionId), Metadata: out.Metadata,
	}, nil
}

// Open streams an object (the given version when versionID is set). The
// caller closes the reader.
func (st *Store) Open(ctx context.Context, key, versionID string) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: &st.bucket, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := st.client.GetObject(ctx, in)
	if err != nil {
		return nil, classify(err, "reading %s", key)
	}
	return out.Body, nil
}

// OpenRange streams bytes [start, end) of an object version. An empty range
// yields an empty reader without a request.
func (st *Store) OpenRange(ctx context.Context, key, versionID string, start, end int64) (io.ReadCloser, error) {
	if end <= start {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	in := &s3.GetObjectInput{
		Bucket: &st.bucket, Key: &key,
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", start, end-1)),
	}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := st.client.GetObject(ctx, in)
	if err != nil {
		return nil, classify(err, "reading bytes %d-%d of %s", start, end-1, key)
	}
	return out.Body, nil
}

// Exists reports whether key exists.
func (st *Store) Exists(ctx context.Context, key string) (bool, error) {
	_, err := st.Head(ctx, key)
	if bulkerr.KindOf(err) == bulkerr.NotFound {
		return false, nil
	}
	return err == nil, err
}

// Put writes body to key with the given content type. S3 writes are atomic:
// readers see the old object or the whole new one, never a part.
func (st *Store) Put(ctx context.Context, key, contentType string, body []byte, meta map[string]string) error {
	_, err := st.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &st.bucket, Key: &key, Body: bytes.NewReader(body),
		ContentType: &contentType, ContentLength: aws.Int64(int64(len(body))), Metadata: meta,
	})
	return classify(err, "writing %s", key)
}

// Get reads a whole (small) object.
func (st *Store) Get(ctx context.Context, key string) ([]byte, error) {
	r, err := st.Open(ctx, key, "")
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, classify(err, "reading %s", key)
	}
	return b, nil
}

// PresignGet returns a link that downloads key for ttl, with the given file
// name offered to the browser.
func (st *Store) PresignGet(ctx context.Context, key, fileName string, ttl time.Duration) (string, error) {
	return st.PresignGetVersion(ctx, key, "", fileName, ttl)
}

// PresignGetVersion is PresignGet of one version of key (the current one
// when versionID is ""): a link to a file that a later write replaced
// still downloads the file it was made for, while the version is kept.
func (st *Store) PresignGetVersion(ctx context.Context, key, versionID, fileName string, ttl time.Duration) (string, error) {
	in := &s3.GetObjectInput{
		Bucket: &st.bucket, Key: &key,
		ResponseContentDisposition: aws.String(fmt.Sprintf("attachment; filename=%q", fileName)),
	}
	if versionID != "" {
		in.VersionId = &versionID
	}
	req, err := st.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", bulkerr.Wrap(bulkerr.Internal, err, "signing a link for %s", key)
	}
	return req.URL, nil
}

// Delete removes key (its current version; older versions stay recoverable
// in a versioned bucket). Deleting a missing key is not an error.
func (st *Store) Delete(ctx context.Context, key string) error {
	_, err := st.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &st.bucket, Key: &key})
	return classify(err, "deleting %s", key)
}

// PresignUpload returns a POST form that uploads exactly key, of 1 to
// maxBytes bytes, with the given user metadata (the policy pins each value,
// so the uploader cannot change them), valid for ttl.
func (st *Store) PresignUpload(ctx context.Context, key string, maxBytes int64, meta map[string]string, ttl time.Duration) (blob.Upload, error) {
	conds := []any{[]any{"content-length-range", 1, maxBytes}}
	fields := map[string]string{}
	for k, v := range meta {
		name := "x-amz-meta-" + k
		conds = append(conds, map[string]string{name: v})
		fields[name] = v
	}
	req, err := st.presign.PresignPostObject(ctx, &s3.PutObjectInput{Bucket: &st.bucket, Key: &key}, func(o *s3.PresignPostOptions) {
		o.Expires = ttl
		o.Conditions = conds
	})
	if err != nil {
		return blob.Upload{}, bulkerr.Wrap(bulkerr.Internal, err, "signing an upload of %s", key)
	}
	for k, v := range req.Values {
		fields[k] = v
	}
	return blob.Upload{URL: req.URL, Fields: fields}, nil
}

// PutFile uploads the open file f (size bytes, read from its start) to key
// and returns the version it wrote ("" in a bucket without versioning).
func (st *Store) PutFile(ctx context.Context, key, contentType string, f *os.File, size int64) (string, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", bulkerr.Wrap(bulkerr.Internal, err, "rewinding %s", f.Name())
	}
	out, err := st.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &st.bucket, Key: &key, Body: f, ContentType: &contentType, ContentLength: aws.Int64(size),
	})
	if err != nil {
		return "", classify(err, "writing %s", key)
	}
	return aws.ToString(out.VersionId), nil
}

// PartSize is the size of the parts Create's writer uploads: above S3's 5 MiB
// minimum for every part but the last (MinIO enforces it too).
const PartSize = 8 << 20

// writer streams one object to the bucket without holding it whole: it
// buffers at most PartSize bytes and uploads each full buffer as a part of
// a multipart upload. An object smaller than one part is written with a
// single PutObject. Nothing is visible under the key until Close succeeds;
// Abort (or a failed Close) discards the upload.
type writer struct {
	ctx         context.Context
	st          *Store
	key         string
	contentType string
	buf         []byte
	uploadID    string
	parts       []s3types.CompletedPart
	err         error
	closed      bool
}

// Create returns a Writer of key (a blob.Writer). The caller must Close or
// Abort it.
func (st *Store) Create(ctx context.Context, key, contentType string) blob.Writer {
	return &writer{ctx: ctx, st: st, key: key, contentType: contentType}
}

// Write buffers p, uploading a part whenever PartSize bytes are buffered.
func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, min(PartSize, max(len(p), 64<<10)))
		}
		room := PartSize - len(w.buf)
		take := min(room, len(p))
		w.buf = append(w.buf, p[:take]...)
		p = p[take:]
		if len(w.buf) == PartSize {
			if err := w.flushPart(); err != nil {
				w.err = err
				return n - len(p), err
			}
		}
	}
	return n, nil
}

func (w *writer) flushPart() error {
	if w.uploadID == "" {
		out, err := w.st.client.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{
			Bucket: &w.st.bucket, Key: &w.key, ContentType: &w.contentType,
		})
		if err != nil {
			return classify(err, "starting the upload of %s", w.key)
		}
		w.uploadID = aws.ToString(out.UploadId)
	}
	num := int32(len(w.parts) + 1)
	out, err := w.st.client.UploadPart(w.ctx, &s3.UploadPartInput{
		Bucket: &w.st.bucket, Key: &w.key, UploadId: &w.uploadID, PartNumber: &num,
		Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
	})
	if err != nil {
		return classify(err, "uploading part %d of %s", num, w.key)
	}
	w.parts = append(w.parts, s3types.CompletedPart{ETag: out.ETag, PartNumber: &num})
	w.buf = w.buf[:0]
	return nil
}

// Close writes what is buffered and completes the object.
func (w *writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		w.abort()
		return w.err
	}
	if w.uploadID == "" {
		w.err = w.st.Put(w.ctx, w.key, w.contentType, w.buf, nil)
		return w.err
	}
	if len(w.buf) > 0 {
		if err := w.flushPart(); err != nil {
			w.err = err
			w.abort()
			return err
		}
	}
	_, err := w.st.client.CompleteMultipartUpload(w.ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &w.st.bucket, Key: &w.key, UploadId: &w.uploadID,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: w.parts},
	})
	if err != nil {
		w.err = classify(err, "completing the upload of %s", w.key)
		w.abort()
	}
	return w.err
}

// Abort discards the object; nothing is written under the key.
func (w *writer) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	w.abort()
}

func (w *writer) abort() {
	w.buf = nil
	if w.uploadID == "" {
		return
	}
	// Best effort: the bucket's lifecycle rule removes what a crash leaves.
	_, _ = w.st.client.AbortMultipartUpload(context.WithoutCancel(w.ctx), &s3.AbortMultipartUploadInput{
		Bucket: &w.st.bucket, Key: &w.key, UploadId: &w.uploadID,
	})
}
