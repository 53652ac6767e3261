package s3store

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// CopyVersion writes version versionID of key onto key again, as its new
// current version, with the given user metadata instead of the old one,
// and returns the new version's ID. The bytes are copied inside S3
// (CopyObject, up to 5 GB, far above the upload limits), never through
// the caller. Applying a previewed import uses it: the copy is the
// previewed file, byte for byte, and its Object Created event starts the
// import as an upload does.
func (st *Store) CopyVersion(ctx context.Context, key, versionID string, meta map[string]string) (string, error) {
	// The copy source is URL-encoded, '+' included: a '+' left as it is may
	// be read back as a space (LocalStack does; SDKs encode it too).
	src := st.bucket + "/" + strings.ReplaceAll((&url.URL{Path: key}).EscapedPath(), "+", "%2B")
	if versionID != "" {
		src += "?versionId=" + url.QueryEscape(versionID)
	}
	out, err := st.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: &st.bucket, Key: &key, CopySource: &src,
		Metadata: meta, MetadataDirective: s3types.MetadataDirectiveReplace,
	})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchVersion" {
		return "", bulkerr.Wrap(bulkerr.NotFound, err, "copying version %s of %s: the version does not exist", versionID, key)
	}
	if err != nil {
		return "", classify(err, "copying version %s of %s", versionID, key)
	}
	return aws.ToString(out.VersionId), nil
}
