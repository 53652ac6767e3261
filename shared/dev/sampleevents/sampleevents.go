// Package sampleevents makes the sample events in events/ that SAM CLI
// users feed to `sam local invoke <Function> -e events/...`: one or more
// per template function, each built by the code the local stack and the
// tests use to build it (the dev server's S3-to-EventBridge conversion, its
// schedule tick, its API Gateway play, the state machine's step inputs as
// the import workflow's types), with fixed IDs and times so the files are
// stable. The package's test fails when a file is stale and rewrites them
// with -update (go generate ./shared/dev/sampleevents).
package sampleevents

//go:generate go test -run TestSampleEvents -update .

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobevents"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/retry"
)

// At is the fixed time of every sample.
var At = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// Sample is one event file.
type Sample struct {
	Function string // template logical ID
	Name     string // file name under events/<Function>/
	Event    any
}

// Path is the sample's path under events/.
func (s Sample) Path() string { return s.Function + "/" + s.Name }

const (
	tenant = "demo"
	jobID  = "01KJQ3V0Z8A1B2C3D4E5F6G7H8"
)

// retryRequest is the API's request to the retry function: build the
// file of a retry (job jobID) of the rejected rows of an earlier job.
var retryRequest = retry.Request{Tenant: tenant, JobID: jobID, RetryOf: "01KJQ2A0B1C2D3E4F5G6H7J8K9", User: "admin@demo.example"}

// Job is the job every workflow sample names.
func Job(bucket string) importflow.JobRef {
	return importflow.JobRef{Tenant: tenant, JobID: jobID, Bucket: bucket, Key: "imports/demo/work-type/work-type.csv",
		VersionID: "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrH", ObjectType: "work-type", FileName: "work-type.csv"}
}

// ObjectCreated is the EventBridge "Object Created" event S3 sends for an
// upload to bucket: the dev server's conversion of MinIO's notification.
func ObjectCreated(bucket string) (map[string]any, error) {
	notification := map[string]any{
		"EventName": "s3:ObjectCreated:Post",
		"Records": []any{map[string]any{
			"eventName": "s3:ObjectCreated:Post", "eventTime": At.Format(time.RFC3339), "awsRegion": devstack.Region,
			"userIdentity":      map[string]any{"principalId": "AWS:AROAEXAMPLE:bulkops-api"},
			"requestParameters": map[string]any{"sourceIPAddress": "203.0.113.7"},
			"responseElements":  map[string]any{"x-amz-request-id": "C3D13FE58DE4C810"},
			"s3": map[string]any{"bucket": map[string]any{"name": bucket}, "object": map[string]any{
				"key": "imports/demo/work-type/work-type.csv", "size": 312, "eTag": "b1946ac92492d2347c6235b4d2611184",
				"versionId": "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrH", "sequencer": "0066E1F4C1D2E3F4A5"}},
		}},
	}
	body, _ := json.Marshal(notification)
	evs, err := devstack.ObjectCreatedEvents(body)
	if err != nil || len(evs) != 1 {
		return nil, fmt.Errorf("object created event: %v", err)
	}
	evs[0]["id"] = "17793124-05d4-b198-2fde-7ededc63b103"
	return evs[0], nil
}

// All returns every sample, for the template's local names.
func All(names devstack.Names) ([]Sample, error) {
	bucket, _ := names.Ref("DataBucket")
	created, err := ObjectCreated(bucket)
	if err != nil {
		return nil, err
	}
	// The start step gets the event itself (the state machine's input),
	// as the ASL's Parameters {"step": "start", "event.$": "$"} build it.
	job := Job(bucket)
	plan := importflow.PlanRef{Rows: 8, MaxConcurrency: 4, Chunks: []importflow.ChunkRef{{Index: 0, Start: 24, End: 312, FirstRow: 2, Rows: 8}}}
	tick := devstack.ScheduledEvent("arn:aws:events:us-east-1:000000000000:rule/"+names.Prefix+"ExportTick", At)
	tick["id"] = "89d1a02d-5ec7-412e-82f5-13505f849b41"
	samples := []Sample{
		{"ImportControlFunction", "start.json", map[string]any{"step": "start", "event": created}},
		{"ImportControlFunction", "acquire-lock.json", importflow.Request{Step: "acquireLock", Job: &job, Lock: &importflow.LockState{}}},
		{"ImportControlFunction", "release-lock.json", importflow.Request{Step: "releaseLock", Job: &job}},
		{"ImportControlFunction", "mark-failed.json", importflow.Request{Step: "markFailed", Job: &job,
			Error: &importflow.StateError{Error: bulkerr.KindStateName(bulkerr.Invalid), Cause: `{"errorMessage":"the file has no header row","errorType":"Bulk.Invalid"}`}}},
		{"ImportPrepareFunction", "prepare.json", importflow.Request{Step: "prepare", Job: &job}},
		{"ImportChunkFunction", "chunk.json", importflow.Request{Step: "chunk", Job: &job, Chunk: &plan.Chunks[0]}},
		{"ImportFinalizeFunction", "finalize.json", importflow.Request{Step: "finalize", Job: &job, Plan: &plan}},
		{"ExportFunction", "export.json", exportflow.Request{Tenant: tenant, JobID: jobID, ObjectTypes: []string{"queue", "site"}, Prefix: "nightly_"}},
		{"ExportDispatchFunction", "schedule-tick.json", tick},
		{"ImportRetryFunction", "build.json", retryRequest},
	}
	if _, ok := names.Template.Resources["JobCleanupFunction"]; ok {
		// The cleanup function (contract 4) hears of dead executions, of
		// export invocations out of retries, and of its sweeper's tick.
		exportFn, _ := names.Ref("ExportFunction")
		rec := devstack.InvocationRecord{Version: "1.0", Timestamp: At.Format("2006-01-02T15:04:05.000Z"),
			RequestContext:  devstack.RecordRequest{RequestID: "c0a8f4b2-7d3e-4f1a-9b6c-2e5d8a1f3c70", FunctionARN: devstack.FunctionARN(exportFn) + ":$LATEST", Condition: "RetriesExhausted", ApproximateInvokeCount: 3},
			RequestPayload:  mustJSON(exportflow.Request{Tenant: tenant, JobID: jobID, ObjectTypes: []string{"queue"}}),
			ResponseContext: devstack.RecordResponse{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: "Unhandled"},
			ResponsePayload: json.RawMessage(`{"errorMessage":"RequestId: c0a8f4b2-7d3e-4f1a-9b6c-2e5d8a1f3c70 Error: Task timed out after 900.00 seconds","errorType":"Sandbox.Timedout"}`)}
		sm, _ := names.Ref("ImportStateMachine")
		status := map[string]any{"version": "0", "id": "315c1398-40ff-a850-213b-158f73e60175", "detail-type": "Step Functions Execution Status Change",
			"source": "aws.states", "account": devstack.Account, "time": At.Format(time.RFC3339), "region": devstack.Region,
			"resources": []string{strings.Replace(sm, ":stateMachine:", ":execution:", 1) + ":" + jobID},
			"detail": map[string]any{"executionArn": strings.Replace(sm, ":stateMachine:", ":execution:", 1) + ":" + jobID, "stateMachineArn": sm,
				"name": jobID, "status": "ABORTED", "startDate": At.Add(-time.Minute).UnixMilli(), "stopDate": At.UnixMilli(),
				"input": string(mustJSON(created)), "output": nil}}
		retryFn, _ := names.Ref("ImportRetryFunction")
		retryRec := rec
		retryRec.RequestContext.FunctionARN = devstack.FunctionARN(retryFn) + ":$LATEST"
		retryRec.RequestPayload = mustJSON(retryRequest)
		samples = append(samples,
			Sample{"JobCleanupFunction", "export-retries-exhausted.json", rec},
			Sample{"JobCleanupFunction", "retry-build-retries-exhausted.json", retryRec},
			Sample{"JobCleanupFunction", "execution-aborted.json", status},
			Sample{"JobCleanupFunction", "sweep-tick.json", tick})
	}
	if _, ok := names.Template.Resources["NotifyFunction"]; ok {
		// The notifier hears of failed scheduled runs and failed imports
		// through the events the service publishes (package jobevents).
		bus := func(id, detailType string, detail any) map[string]any {
			return map[string]any{"version": "0", "id": id, "detail-type": detailType, "source": jobevents.Source,
				"account": devstack.Account, "time": At.Format(time.RFC3339), "region": devstack.Region,
				"resources": []string{}, "detail": detail}
		}
		ended := At
		samples = append(samples,
			Sample{"NotifyFunction", "schedule-run-failed.json", bus("6a7e8feb-b491-4cf7-a9f1-bf3703467718", jobevents.ExportFailedType,
				jobevents.ExportFailedDetail{Tenant: tenant, ScheduleID: "01KJQ2M4R6T8V0X2Z4B6D8F0H2", Title: "Nightly queues", JobID: jobID,
					ObjectTypes: []string{"queue"}, Phase: jobs.PhaseExport,
					Reason: "queue: reading the objects failed: the table is not reachable", ConsecutiveFailures: 3, Suspended: true})},
			Sample{"NotifyFunction", "import-failed.json", bus("0d4b5c1e-9f3a-4e27-8b6d-2c1a0e9f8d7b", jobevents.DetailType,
				jobevents.Detail{Tenant: tenant, JobID: jobID, JobType: jobs.TypeImport, ObjectType: "work-type", FileName: "work-type.csv",
					Status: jobs.StatusFailed, SubmittedBy: "admin@demo.example", Message: "the file has no header row", Phase: jobs.PhasePrepare, EndedAt: &ended})})
	}
	api, err := apiSamples(names)
	if err != nil {
		return nil, err
	}
	samples = append(samples, api...)
	// And the EventBridge event that starts the import state machine.
	samples = append(samples, Sample{"ImportStateMachine", "s3-object-created.json", created})
	sort.Slice(samples, func(i, j int) bool { return samples[i].Path() < samples[j].Path() })
	return samples, nil
}

// apiSamples are HTTP API payload format 2.0 events as the dev server's
// API Gateway play builds them for the template's stage.
func apiSamples(names devstack.Names) ([]Sample, error) {
	params := map[string]string{"JwtIssuer": authn.DefaultLocalIssuer, "JwtAudience": authn.LocalAudience}
	for k, v := range names.Params {
		params[k] = v
	}
	names.Params = params
	gw, err := devstack.NewAPIGateway(names, "HttpApi", nil, func(string) authn.KeyResolver { return nil }, nil)
	if err != nil {
		return nil, err
	}
	claims := authn.LocalClaims(authn.DefaultLocalIssuer, tenant, "admin@demo.example", At, time.Hour)
	jwt := &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: devstack.ClaimStrings(claims)}
	reqs := []struct {
		name, method, target, body, contentType string
	}{
		{"health.json", "GET", "/v1/health", "", ""},
		{"list-jobs.json", "GET", "/v1/jobs?status=Failed&limit=20", "", ""},
		{"get-job.json", "GET", "/v1/jobs/" + jobID, "", ""},
		{"create-import.json", "POST", "/v1/imports", `{"objectType":"work-type","fileName":"work-type.csv"}`, "application/json"},
		{"create-export.json", "POST", "/v1/exports", `{"objectTypes":["queue"],"prefix":"nightly_"}`, "application/json"},
		{"template.json", "GET", "/v1/object-types/work-type/template?example=true", "", ""},
	}
	var out []Sample
	for i, rq := range reqs {
		stagePath := "/" + gw.Stage + rq.target
		r := httptest.NewRequest(rq.method, "http://127.0.0.1:3000"+stagePath, strings.NewReader(rq.body))
		r.RemoteAddr = "127.0.0.1:54321"
		r.Header.Set("User-Agent", "bulkops-cli")
		r.Header.Set("Accept", "application/json")
		if rq.contentType != "" {
			r.Header.Set("Content-Type", rq.contentType)
		}
		path := strings.SplitN(rq.target, "?", 2)[0]
		var route devstack.APIRoute
		var pathParams map[string]string
		for _, rt := range gw.Routes {
			if rt.Method != rq.method {
				continue
			}
			if p, ok := routeParams(rt.Path, path); ok {
				route, pathParams = rt, p
				break
			}
		}
		if route.Path == "" {
			return nil, fmt.Errorf("no template route for %s %s", rq.method, path)
		}
		var auth *events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription
		if route.Authorizer != "" {
			r.Header.Set("Authorization", "Bearer LOCAL_TOKEN_FROM_bulkops_token")
			auth = jwt
		}
		ev := gw.Event(r, route, pathParams, strings.SplitN(stagePath, "?", 2)[0], []byte(rq.body), auth, fmt.Sprintf("Sample%02dRequestId=", i), At)
		raw, err := devstack.MarshalEvent(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, Sample{"ApiFunction", rq.name, json.RawMessage(raw)})
	}
	return out, nil
}

// routeParams matches a route path without greedy variables.
func routeParams(pattern, path string) (map[string]string, bool) {
	ps, ss := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(ss) {
		return nil, false
	}
	params := map[string]string{}
	for i := range ps {
		if strings.HasPrefix(ps[i], "{") {
			params[strings.Trim(ps[i], "{}")] = ss[i]
		} else if ps[i] != ss[i] {
			return nil, false
		}
	}
	if len(params) == 0 {
		params = nil
	}
	return params, true
}

// EnvVars is the --env-vars file of `sam local invoke`: each function's
// template environment with the local stack's names, and the endpoints of
// the local servers (reached from the container with --docker-network
// host).
func EnvVars(names devstack.Names, endpoints map[string]string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, id := range names.Template.OfType("AWS::Serverless::Function") {
		getenv, err := names.Env(id, func(string) string { return "" })
		if err != nil {
			return nil, err
		}
		vars := map[string]string{}
		for k := range names.Template.FunctionEnv(id) {
			vars[k] = getenv(k)
		}
		for k, v := range endpoints {
			vars[k] = v
		}
		out[id] = vars
	}
	return out, nil
}

// LocalEndpoints are the local stack's default endpoints and settings.
var LocalEndpoints = map[string]string{
	"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
	"AWS_ENDPOINT_URL_SFN": "http://127.0.0.1:8083", "AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:3001",
	"AWS_ENDPOINT_URL_EVENTBRIDGE": "http://127.0.0.1:3001", "AWS_ENDPOINT_URL_SESV2": "http://127.0.0.1:3001",
	"AWS_EC2_METADATA_DISABLED": "true",
	"AWS_ACCESS_KEY_ID":         "local", "AWS_SECRET_ACCESS_KEY": "localsecret", "AWS_REGION": "us-east-1",
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
