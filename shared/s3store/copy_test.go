package s3store_test

import (
	"context"
	"io"
	"testing"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// TestCopyVersion: an old version copied onto its key becomes the current
// version, byte for byte, with the new metadata only; a missing version is
// NotFound.
func TestCopyVersion(t *testing.T) {
	st := localtest.Require(t)
	st.Provision(t)
	files := s3store.New(st.Clients.S3, st.Ref("DataBucket"))
	ctx := context.Background()
	key := "imports/copy/work-type/a b+c.csv"
	if err := files.Put(ctx, key, "text/csv", []byte("first"), map[string]string{"dry-run": "true", "job-id": "old"}); err != nil {
		t.Fatal(err)
	}
	first, err := files.Head(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := files.Put(ctx, key, "text/csv", []byte("second"), nil); err != nil {
		t.Fatal(err)
	}
	v, err := files.CopyVersion(ctx, key, first.VersionID, map[string]string{"job-id": "new"})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := files.Head(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if cur.VersionID != v || v == first.VersionID || cur.Metadata["job-id"] != "new" || cur.Metadata["dry-run"] != "" {
		t.Fatalf("copy: version %q (returned %q, source %q), metadata %v", cur.VersionID, v, first.VersionID, cur.Metadata)
	}
	body, err := files.Open(ctx, key, "")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	if b, _ := io.ReadAll(body); string(b) != "first" {
		t.Fatalf("copied bytes %q, want the old version's", b)
	}
	if _, err := files.CopyVersion(ctx, "imports/copy/work-type/missing.csv", first.VersionID, nil); bulkerr.KindOf(err) != bulkerr.NotFound {
		t.Fatalf("copying a missing object: %v (kind %s)", err, bulkerr.KindOf(err))
	}
}
