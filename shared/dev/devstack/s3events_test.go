package devstack

import "testing"

func TestObjectCreatedEvents(t *testing.T) {
	body := `{"EventName":"s3:ObjectCreated:Put","Key":"b/imports/t1/site/my+file%C3%A9.csv","Records":[
	 {"eventName":"s3:ObjectCreated:Put","eventTime":"2026-11-22T10:00:00.000Z","userIdentity":{"principalId":"local"},
	  "requestParameters":{"sourceIPAddress":"127.0.0.1"},"responseElements":{"x-amz-request-id":"R1"},
	  "s3":{"bucket":{"name":"b"},"object":{"key":"imports/t1/site/my+file%C3%A9.csv","size":42,"eTag":"abc","versionId":"v1","sequencer":"S1"}}},
	 {"eventName":"s3:ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"x"}}}]}`
	evs, err := ObjectCreatedEvents([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("got %d events, want 1 (deletes are skipped)", len(evs))
	}
	ev := evs[0]
	detail := ev["detail"].(map[string]any)
	obj := detail["object"].(map[string]any)
	checks := map[string]any{
		"source": ev["source"], "detail-type": ev["detail-type"], "key": obj["key"], "version-id": obj["version-id"],
		"reason": detail["reason"], "bucket": detail["bucket"].(map[string]any)["name"], "time": ev["time"],
	}
	want := map[string]any{
		"source": "aws.s3", "detail-type": "Object Created", "key": "imports/t1/site/my fileé.csv", "version-id": "v1",
		"reason": "PutObject", "bucket": "b", "time": "2026-11-22T10:00:00Z",
	}
	for k, w := range want {
		if checks[k] != w {
			t.Errorf("%s = %v, want %v", k, checks[k], w)
		}
	}
	if _, err := ObjectCreatedEvents([]byte("{not json")); err == nil {
		t.Error("bad JSON must be an error")
	}
}
