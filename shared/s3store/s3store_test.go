package s3store_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"

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
