package cfnstack_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/dev/cfnstack"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// TestLocalStackStackHasEveryTemplateResource: CloudFormation created
// every resource of template.yaml (the SAM resources through the
// transform: a function is an AWS::Lambda::Function of the same logical
// ID), except the HTTP API and the console's CloudFront distribution, which
// the community edition skips.
func TestLocalStackStackHasEveryTemplateResource(t *testing.T) {
	st := cfnstack.Require(t)
	if !strings.HasSuffix(st.Status, "_COMPLETE") || strings.Contains(st.Status, "ROLLBACK") {
		t.Fatalf("stack %s is %s", st.Name, st.Status)
	}
	tpl, err := samtemplate.Load(filepath.Join(localtest.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	transformed := map[string]string{
		"AWS::Serverless::Function":     "AWS::Lambda::Function",
		"AWS::Serverless::StateMachine": "AWS::StepFunctions::StateMachine",
		"AWS::Serverless::HttpApi":      "AWS::ApiGatewayV2::Api",
	}
	for id, r := range tpl.Resources {
		got, ok := st.Resources[id]
		switch {
		case ok && got.PhysicalID == "unknown" && unsupported(got.Type):
			// LocalStack's CloudFormation skips the resource types its
			// community edition lacks (CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES).
			t.Logf("%s (%s): skipped by LocalStack (not in the community edition)", id, got.Type)
			continue
		case !ok:
			if why, ok := absent[id]; ok {
				t.Logf("%s (%s): not in the stack: %s", id, r.Type, why)
				continue
			}
			t.Errorf("%s (%s) is not in the stack", id, r.Type)
			continue
		}
		want := r.Type
		if w, ok := transformed[r.Type]; ok {
			want = w
		}
		if got.Type != want {
			t.Errorf("%s is a %s in the stack, want %s", id, got.Type, want)
		}
		if !strings.HasSuffix(got.Status, "_COMPLETE") {
			t.Errorf("%s is %s", id, got.Status)
		}
	}
}

// unsupported reports whether LocalStack's community edition lacks a
// resource type: API Gateway v2 (the HTTP API, which the dev server plays)
// and CloudFront (the console's distribution).
func unsupported(typ string) bool {
	return strings.HasPrefix(typ, "AWS::ApiGatewayV2::") || strings.HasPrefix(typ, "AWS::CloudFront::")
}

// absent names the template resources the stack leaves out with the local
// parameters, and why.
var absent = map[string]string{
	"UserPool":               "condition CreateUserPool is false: the stack trusts the dev server's OIDC issuer (JwtIssuer)",
	"UserPoolDomain":         "condition CreateUserPool is false",
	"UserPoolClient":         "condition CreateUserPool is false",
	"OperatorResourceServer": "condition CreateUserPool is false",
	"OperatorClient":         "condition CreateUserPool is false",
	"ExportFailedEmail":      "condition HasAlertEmail is false (no AlertEmail)",
	"AlertEmailSubscription": "condition HasAlertEmail is false (no AlertEmail)",
}

// TestLocalStackImportRunsEndToEnd: a CSV put under imports/<tenant>/<type>/
// in the deployed bucket becomes an EventBridge "Object Created" event, the
// template's rule starts the import state machine with the template's
// input, and LocalStack's Step Functions runs every state, invoking the
// functions' bootstraps through LocalStack's Lambda (no Docker: the
// local-process executor). The job ends as the sample's rows say.
func TestLocalStackImportRunsEndToEnd(t *testing.T) {
	st := cfnstack.Require(t)
	ctx := context.Background()
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s3c, sfnc, db := awsenv.S3(cfg), awsenv.SFN(cfg), awsenv.DynamoDB(cfg)
	bucket := st.Physical(t, "DataBucket")
	machine := st.Physical(t, "ImportStateMachine")
	store := dynamostore.New(db, dynamostore.Tables{
		Objects: st.Physical(t, "ObjectsTable"), Jobs: st.Physical(t, "JobsTable"), Control: st.Physical(t, "ControlTable"),
	}, nil)

	csv, err := os.ReadFile(filepath.Join(localtest.RepoRoot(t), "samples", "work-type.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	tenant := "ls" + hex.EncodeToString(b[:])
	key := "imports/" + tenant + "/work-type/work-type.csv"
	before := time.Now().Add(-time.Second)
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(csv)}); err != nil {
		t.Fatal(err)
	}

	// The rule started an execution whose input is the event for this key.
	var exec *sfntypes.ExecutionListItem
	deadline := time.Now().Add(60 * time.Second)
	for exec == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no execution of %s started for s3://%s/%s", machine, bucket, key)
		}
		out, err := sfnc.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: &machine})
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range out.Executions {
			if e.StartDate == nil || e.StartDate.Before(before) {
				continue
			}
			d, err := sfnc.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(aws.ToString(d.Input), key) {
				exec = &out.Executions[i]
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
	}

	var d *sfn.DescribeExecutionOutput
	deadline = time.Now().Add(3 * time.Minute)
	for {
		d, err = sfnc.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: exec.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still running after 3 minutes", aws.ToString(exec.ExecutionArn))
		}
		time.Sleep(time.Second)
	}
	if d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s: %s %s %s", aws.ToString(exec.ExecutionArn), d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}

	list, err := store.ListJobs(ctx, tenant, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("tenant %s has %d jobs, want 1", tenant, len(list))
	}
	j := list[0]
	if j.Status != jobs.StatusCompletedWithErrs {
		t.Fatalf("job %s is %s, want %s", j.ID, j.Status, jobs.StatusCompletedWithErrs)
	}
	if j.Counts.Total != 8 || j.Counts.Created != 5 || j.Counts.Failed != 3 {
		t.Fatalf("job counts %+v, want 8 rows: 5 created, 3 failed", j.Counts)
	}
}
