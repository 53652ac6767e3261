package devstack

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// minioNotification is the body MinIO posts to a webhook target: the S3
// event-notification format.
type minioNotification struct {
	EventName string `json:"EventName"`
	Records   []struct {
		EventName string    `json:"eventName"`
		EventTime time.Time `json:"eventTime"`
		AWSRegion string    `json:"awsRegion"`
		UserIdent struct {
			PrincipalID string `json:"principalId"`
		} `json:"userIdentity"`
		Request struct {
			SourceIP string `json:"sourceIPAddress"`
		} `json:"requestParameters"`
		Response struct {
			RequestID string `json:"x-amz-request-id"`
		} `json:"responseElements"`
		S3 struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key       string `json:"key"`
				Size      int64  `json:"size"`
				ETag      string `json:"eTag"`
				VersionID string `json:"versionId"`
				Sequencer string `json:"sequencer"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

// ObjectCreatedEvents converts a MinIO webhook body into the EventBridge
// events S3 would send for it ("Object Created", source aws.s3). Keys in the
// S3 notification format are URL-encoded; EventBridge events carry them as
// stored. Records that are not object creations are skipped.
func ObjectCreatedEvents(body []byte) ([]map[string]any, error) {
	var n minioNotification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("S3 notification: %w", err)
	}
	var out []map[string]any
	for _, r := range n.Records {
		reason, ok := createdReasons[r.EventName]
		if !ok {
			continue
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return nil, fmt.Errorf("S3 notification: key %q: %w", r.S3.Object.Key, err)
		}
		t := r.EventTime
		if t.IsZero() {
			t = time.Now()
		}
		object := map[string]any{
			"key": key, "size": r.S3.Object.Size, "etag": r.S3.Object.ETag, "sequencer": r.S3.Object.Sequencer,
		}
		if r.S3.Object.VersionID != "" {
			object["version-id"] = r.S3.Object.VersionID
		}
		out = append(out, map[string]any{
			"version":     "0",
			"id":          newUUID(),
			"detail-type": "Object Created",
			"source":      "aws.s3",
			"account":     Account,
			"time":        t.UTC().Format(time.RFC3339),
			"region":      Region,
			"resources":   []any{"arn:aws:s3:::" + r.S3.Bucket.Name},
			"detail": map[string]any{
				"version":           "0",
				"bucket":            map[string]any{"name": r.S3.Bucket.Name},
				"object":            object,
				"request-id":        r.Response.RequestID,
				"requester":         r.UserIdent.PrincipalID,
				"source-ip-address": r.Request.SourceIP,
				"reason":            reason,
			},
		})
	}
	return out, nil
}

var createdReasons = map[string]string{
	"s3:ObjectCreated:Put":                     "PutObject",
	"s3:ObjectCreated:Post":                    "PostObject",
	"s3:ObjectCreated:Copy":                    "CopyObject",
	"s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
