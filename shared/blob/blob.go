// Package blob describes the service's stored files (uploads, error and
// results reports, export archives) as the workflows and the API see
// them, apart from where they are kept: what a file's head tells (Info),
// a presigned form that uploads one file (Upload), and a writer that
// streams one file without holding it whole (Writer). s3store keeps them
// in S3. It imports nothing from AWS.
package blob

import "io"

// Info is what the store tells about a stored file without reading it.
type Info struct {
	Size      int64
	ETag      string
	VersionID string
	Metadata  map[string]string // user metadata, keys lower-case (without S3's x-amz-meta- prefix)
}

// Upload is a presigned POST form: its URL and the fields to send before
// the file field.
type Upload struct {
	URL    string            `json:"url"`
	Fields map[string]string `json:"fields"`
}

// Writer streams one file to the store. Nothing is visible under its key
// until Close succeeds; Abort (or a failed Close) discards what was
// written. The caller must Close or Abort it.
type Writer interface {
	io.Writer
	// Close finishes the file and makes it visible.
	Close() error
	// Abort discards the file.
	Abort()
}
