package cleanupapp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestNoJobKeepsTheStartError: when the start step cannot register a job,
// the import execution ends at the NoJob Fail state with the start step's
// own error name and cause (ErrorPath/CausePath of the caught error), run
// by the real ASL interpreter and Lambda server: an event that is not an S3
// upload is Bulk.Invalid, an upload whose object is gone Bulk.NotFound.
func TestNoJobKeepsTheStartError(t *testing.T) {
	t.Parallel()
	m := startMini(t, miniOptions{})
	machine := m.ref("ImportStateMachine")
	bucket := m.ref("DataBucket")
	tenant := "nojob-" + suffix()
	cases := []struct {
		name, input, wantError, wantCause string
	}{
		{"not an S3 event", `{"id":"e1","source":"aws.sqs","detail-type":"Message","detail":{}}`,
			"Bulk.Invalid", "not an S3 Object Created event"},
		{"object gone", `{"id":"e2","source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"` + bucket +
			`"},"object":{"key":"imports/` + tenant + `/work-type/gone.csv","sequencer":"01"}}}`,
			"Bulk.NotFound", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			out, err := m.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &machine, Input: aws.String(c.input)})
			if err != nil {
				t.Fatal(err)
			}
			var d *sfn.DescribeExecutionOutput
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
				d, err = m.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
				if err != nil {
					t.Fatal(err)
				}
				if d.Status != sfntypes.ExecutionStatusRunning || time.Now().After(deadline) {
					break
				}
			}
			if d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != c.wantError {
				t.Fatalf("execution %s with error %q (cause %q), want FAILED with %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), c.wantError)
			}
			if !strings.Contains(aws.ToString(d.Cause), c.wantCause) || aws.ToString(d.Cause) == "" {
				t.Errorf("cause %q, want the start step's message (containing %q)", aws.ToString(d.Cause), c.wantCause)
			}
		})
	}
}
