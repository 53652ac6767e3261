package s3store

import (
	"context"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// PutFileMeta uploads the open file f (size bytes, read from its start) to
// key with user metadata meta (x-amz-meta-*), in one PutObject: the object
// appears whole, with its metadata, in one event. The API writes a retry's
// import file this way.
func (st *Store) PutFileMeta(ctx context.Context, key, contentType string, f *os.File, size int64, meta map[string]string) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "rewinding %s", f.Name())
	}
	_, err := st.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &st.bucket, Key: &key, Body: f, ContentType: &contentType, ContentLength: aws.Int64(size), Metadata: meta,
	})
	return classify(err, "writing %s", key)
}
