package s3store_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// TestWriterStreamsMultipart: an object of 2.5 parts written in odd-sized
// pieces reads back byte for byte (MinIO enforces the 5 MiB part minimum);
// a small one is a single PutObject; an aborted one leaves nothing.
func TestWriterStreamsMultipart(t *testing.T) {
	st := localtest.Require(t)
	st.Provision(t)
	files := s3store.New(st.Clients.S3, st.Ref("DataBucket"))
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1000, s3store.PartSize, s3store.PartSize*2 + s3store.PartSize/2} {
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(rng.IntN(256))
		}
		w := files.Create(ctx, "results/t/big.bin", "application/octet-stream")
		for rest := want; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(3<<20))
			if _, err := w.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		got, err := files.Get(ctx, "results/t/big.bin")
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: read back %d bytes, equal=%v, %v", size, len(got), bytes.Equal(got, want), err)
		}
	}
	w := files.Create(ctx, "results/t/aborted.bin", "application/octet-stream")
	if _, err := io.Copy(w, bytes.NewReader(make([]byte, s3store.PartSize+1))); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if err := w.Close(); err != nil {
		t.Fatalf("Close after Abort: %v", err)
	}
	if _, err := files.Head(ctx, "results/t/aborted.bin"); bulkerr.KindOf(err) != bulkerr.NotFound {
		t.Fatalf("an aborted upload is visible: %v", err)
	}
}

// newStore is a Store on the test's own (versioned) bucket.
func newStore(t *testing.T) *s3store.Store {
	t.Helper()
	st := localtest.Require(t)
	st.Provision(t)
	files := s3store.New(st.Clients.S3, st.Ref("DataBucket"))
	if files.Bucket() != st.Ref("DataBucket") {
		t.Fatalf("Bucket() = %q, want %q", files.Bucket(), st.Ref("DataBucket"))
	}
	return files
}

func readAll(t *testing.T, r io.ReadCloser, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestObjectsAndVersions: Put, Head, HeadVersion, Open, OpenRange, Get,
// Exists and Delete on MinIO: metadata comes back lower-cased, every
// write is a new version that stays readable by its ID (also after a
// delete), ranges are [start, end), and missing keys or ranges past the
// end are NotFound and Invalid errors, not empty reads.
func TestObjectsAndVersions(t *testing.T) {
	files := newStore(t)
	ctx := context.Background()
	const key = "imports/acme/queue/q.csv"
	if err := files.Put(ctx, key, "text/csv", []byte("v1"), map[string]string{"Job-Id": "J1"}); err != nil {
		t.Fatal(err)
	}
	first, err := files.Head(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if first.Size != 2 || first.ETag == "" || first.VersionID == "" || first.Metadata["job-id"] != "J1" {
		t.Fatalf("Head after the first Put = %+v", first)
	}
	if err := files.Put(ctx, key, "text/csv", []byte("second"), nil); err != nil {
		t.Fatal(err)
	}
	cur, err := files.Head(ctx, key)
	if err != nil || cur.Size != 6 || cur.VersionID == first.VersionID || cur.ETag == first.ETag || len(cur.Metadata) != 0 {
		t.Fatalf("Head after the second Put = %+v %v (first %+v)", cur, err, first)
	}
	if old, err := files.HeadVersion(ctx, key, first.VersionID); err != nil || !reflect.DeepEqual(old, first) {
		t.Fatalf("HeadVersion of the first = %+v %v, want %+v", old, err, first)
	}
	r, err := files.Open(ctx, key, first.VersionID)
	if got := readAll(t, r, err); got != "v1" {
		t.Fatalf("Open of the first version = %q", got)
	}
	r, err = files.Open(ctx, key, "")
	if got := readAll(t, r, err); got != "second" {
		t.Fatalf("Open of the current version = %q", got)
	}
	if got, err := files.Get(ctx, key); err != nil || string(got) != "second" {
		t.Fatalf("Get = %q %v", got, err)
	}
	for _, c := range []struct {
		version    string
		start, end int64
		want       string
	}{
		{"", 1, 4, "eco"},
		{"", 0, 6, "second"},
		{first.VersionID, 1, 2, "1"},
		{"", 3, 3, ""}, // empty: no request
		{"", 5, 2, ""},
	} {
		r, err := files.OpenRange(ctx, key, c.version, c.start, c.end)
		if got := readAll(t, r, err); got != c.want {
			t.Errorf("OpenRange(%q, %d, %d) = %q, want %q", c.version, c.start, c.end, got, c.want)
		}
	}
	if _, err := files.OpenRange(ctx, key, "", 100, 200); bulkerr.KindOf(err) != bulkerr.Invalid {
		t.Errorf("OpenRange past the end: %v, want Invalid", err)
	}

	const missing = "imports/acme/queue/missing.csv"
	if ok, err := files.Exists(ctx, key); err != nil || !ok {
		t.Fatalf("Exists(%s) = %v %v", key, ok, err)
	}
	if ok, err := files.Exists(ctx, missing); err != nil || ok {
		t.Fatalf("Exists(missing) = %v %v, want false and no error", ok, err)
	}
	if _, err := files.Get(ctx, missing); bulkerr.KindOf(err) != bulkerr.NotFound {
		t.Errorf("Get(missing): %v, want NotFound", err)
	}
	if _, err := files.Open(ctx, missing, ""); bulkerr.KindOf(err) != bulkerr.NotFound {
		t.Errorf("Open(missing): %v, want NotFound", err)
	}
	if _, err := files.Head(ctx, missing); bulkerr.KindOf(err) != bulkerr.NotFound {
		t.Errorf("Head(missing): %v, want NotFound", err)
	}

	if err := files.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if ok, err := files.Exists(ctx, key); err != nil || ok {
		t.Fatalf("Exists after Delete = %v %v", ok, err)
	}
	r, err = files.Open(ctx, key, first.VersionID)
	if got := readAll(t, r, err); got != "v1" {
		t.Fatalf("the first version after Delete = %q, want it kept", got)
	}
	if err := files.Delete(ctx, missing); err != nil {
		t.Fatalf("Delete(missing): %v, want no error", err)
	}
}

// TestPutFile uploads an open file from its start, wherever its offset
// was left.
func TestPutFile(t *testing.T) {
	files := newStore(t)
	ctx := context.Background()
	f, err := os.CreateTemp(t.TempDir(), "part")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := bytes.Repeat([]byte("row,"), 1000)
	if _, err := f.Write(want); err != nil {
		t.Fatal(err)
	}
	if _, err := files.PutFile(ctx, "exports/acme/J1/Export.zip", "application/zip", f, int64(len(want))); err != nil {
		t.Fatal(err)
	}
	if got, err := files.Get(ctx, "exports/acme/J1/Export.zip"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(want))
	}
}

// TestPresignedLinks: a download link serves the object with the file
// name offered; an upload form stores exactly its key with its metadata
// and refuses a file over its limit, another key or changed metadata.
func TestPresignedLinks(t *testing.T) {
	files := newStore(t)
	ctx := context.Background()
	if err := files.Put(ctx, "results/acme/J1/errors.csv", "text/csv", []byte("Row,Error\n"), nil); err != nil {
		t.Fatal(err)
	}
	link, err := files.PresignGet(ctx, "results/acme/J1/errors.csv", "errors.csv", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != "Row,Error\n" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="errors.csv"` {
		t.Fatalf("download: %d %q %q %v", resp.StatusCode, body, resp.Header.Get("Content-Disposition"), err)
	}

	const key = "imports/acme/work-type/codes.csv"
	up, err := files.PresignUpload(ctx, key, 10, map[string]string{"job-id": "J9"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if up.URL == "" || up.Fields["key"] != key || up.Fields["x-amz-meta-job-id"] != "J9" {
		t.Fatalf("upload form %+v", up)
	}
	post := func(change map[string]string, file []byte) int {
		t.Helper()
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range up.Fields {
			if c, ok := change[k]; ok {
				v = c
			}
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
		fw, err := mw.CreateFormFile("file", "codes.csv")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(file); err != nil {
			t.Fatal(err)
		}
		if err := mw.Close(); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(up.URL, mw.FormDataContentType(), &buf)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		name   string
		change map[string]string
		file   []byte
	}{
		{"over the limit", nil, []byte("12345678901")},
		{"another key", map[string]string{"key": "imports/other/work-type/codes.csv"}, []byte("Name\n")},
		{"changed metadata", map[string]string{"x-amz-meta-job-id": "J10"}, []byte("Name\n")},
	} {
		if code := post(c.change, c.file); code < 400 {
			t.Errorf("upload %s: %d, want refused", c.name, code)
		}
	}
	for _, k := range []string{key, "imports/other/work-type/codes.csv"} {
		if ok, err := files.Exists(ctx, k); err != nil || ok {
			t.Fatalf("a refused upload left %s (%v %v)", k, ok, err)
		}
	}
	if code := post(nil, []byte("Name\n")); code >= 300 {
		t.Fatalf("upload: %d", code)
	}
	info, err := files.Head(ctx, key)
	if err != nil || info.Size != 5 || info.Metadata["job-id"] != "J9" {
		t.Fatalf("uploaded object %+v %v", info, err)
	}
}
