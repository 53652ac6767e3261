package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Payload limits of the Invoke API.
const (
	// MaxSyncPayload bounds a RequestResponse invocation's request and
	// its response (6 MB).
	MaxSyncPayload = 6 * 1024 * 1024
	// MaxAsyncPayload bounds an Event invocation's request (256 KB, the
	// long-documented limit; AWS has since raised it to 1 MB in some
	// regions, so staying under it is safe everywhere).
	MaxAsyncPayload = 256 * 1024
)

// FunctionConfig is how Lambda runs a function, from its template
// definition (Names.FunctionConfig).
type FunctionConfig struct {
	// Timeout bounds one invocation (default 3 s, as Lambda's).
	Timeout time.Duration
	// Async is the function's EventInvokeConfig.
	Async AsyncConfig
}

// AsyncConfig is a function's EventInvokeConfig: how asynchronous (Event)
// invocations are retried and where their outcome goes.
type AsyncConfig struct {
	// MaxRetries is MaximumRetryAttempts (0 to 2; default 2).
	MaxRetries int
	// MaxEventAge is MaximumEventAgeInSeconds (default 6 hours): an event
	// not run by then is discarded (to OnFailure).
	MaxEventAge time.Duration
	// OnFailure and OnSuccess are Lambda destinations (function names or
	// ARNs; "" for none). They are invoked asynchronously with AWS's
	// invocation record.
	OnFailure, OnSuccess string
}

// DefaultAsync is Lambda's default EventInvokeConfig.
var DefaultAsync = AsyncConfig{MaxRetries: 2, MaxEventAge: 6 * time.Hour}

// LambdaServer serves the Lambda Invoke API
// (POST /2015-03-31/functions/<name or ARN>/invocations) and runs the
// registered handler for the named function in-process, the way Lambda
// runs it:
//
//   - each invocation has a deadline, the function's Timeout (times
//     TimeoutScale); past it the invocation fails with errorType
//     Sandbox.Timedout, "Task timed out after N.NN seconds";
//   - a function error comes back as Lambda reports it: status 200,
//     X-Amz-Function-Error: Unhandled, body {errorType, errorMessage};
//   - an Event invocation is accepted (202) and run in the background
//     under the function's AsyncConfig: up to MaxRetries retries, 1 and
//     then 2 minutes apart, the event discarded once older than
//     MaxEventAge, and the outcome sent to the OnFailure/OnSuccess
//     destination through Destinations (the Invoke API again). AsyncScale
//     scales those delays and the event age, so that local tests need not
//     wait minutes; 1 plays AWS's times.
type LambdaServer struct {
	mu        sync.RWMutex
	functions map[string]*function
	log       *slog.Logger

	// TimeoutScale multiplies every function's Timeout (default 1).
	TimeoutScale float64
	// AsyncScale multiplies the async retry delays and MaxEventAge
	// (default 1).
	AsyncScale float64
	// Destinations invokes destination functions (an SDK Lambda client
	// pointed at this server); without it destinations are only logged.
	Destinations invoker

	wg sync.WaitGroup // async invocations in flight

	latency sync.Map // function name → time.Duration added before each invocation (SetLatency)
}

// SetLatency makes every later invocation of function name start d late,
// inside its timeout, the way a cold start or a slow dependency delays a
// function on AWS; 0 removes it. Tests use it (through the dev server's
// POST /_local/lambda/latency) to watch a workflow while it runs.
func (s *LambdaServer) SetLatency(name string, d time.Duration) {
	if d <= 0 {
		s.latency.Delete(name)
		return
	}
	s.latency.Store(name, d)
}

// ServeLatency serves POST /_local/lambda/latency?function=NAME&delay=DURATION
// (a Go duration such as 1.5s; 0 removes it). The function may be named by
// its template logical ID through resolve.
func (s *LambdaServer) ServeLatency(resolve func(string) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("function")
		if resolve != nil {
			name = resolve(name)
		}
		d, err := time.ParseDuration(r.URL.Query().Get("delay"))
		if err != nil || d < 0 {
			http.Error(w, "delay must be a duration such as 1.5s (0 removes it)", http.StatusBadRequest)
			return
		}
		s.mu.RLock()
		_, ok := s.functions[name]
		s.mu.RUnlock()
		if !ok {
			http.Error(w, "no function "+name, http.StatusNotFound)
			return
		}
		s.SetLatency(name, d)
		w.WriteHeader(http.StatusNoContent)
	}
}

type function struct {
	h   lambda.Handler
	cfg FunctionConfig
}

// NewLambdaServer returns an empty server.
func NewLambdaServer(log *slog.Logger) *LambdaServer {
	return &LambdaServer{functions: map[string]*function{}, log: log, TimeoutScale: 1, AsyncScale: 1}
}

// Register makes h the handler of function name, run under cfg.
func (s *LambdaServer) Register(name string, h lambda.Handler, cfg FunctionConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.functions[name] = &function{h: h, cfg: cfg}
}

// Wait blocks until no asynchronous invocation is in flight or ctx ends.
func (s *LambdaServer) Wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// functionName extracts the function name from a name, a full or partial
// ARN, with or without a qualifier.
func functionName(ref string) string {
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.Split(ref, ":")
		if len(parts) >= 7 {
			return parts[6]
		}
	}
	if i := strings.Index(ref, ":"); i >= 0 { // name:qualifier
		return ref[:i]
	}
	return ref
}

// ServeHTTP implements the Invoke API.
func (s *LambdaServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = "/2015-03-31/functions/"
	path := r.URL.EscapedPath()
	if r.Method != http.MethodPost || !strings.HasPrefix(path, prefix) || !strings.HasSuffix(path, "/invocations") {
		lambdaError(w, http.StatusNotFound, "UnknownOperationException", "only Invoke is served here")
		return
	}
	ref, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(path, prefix), "/invocations"))
	if err != nil {
		lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
		return
	}
	name := functionName(ref)
	s.mu.RLock()
	fn, ok := s.functions[name]
	s.mu.RUnlock()
	if !ok {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+FunctionARN(name))
		return
	}
	async := r.Header.Get("X-Amz-Invocation-Type") == "Event"
	limit := int64(MaxSyncPayload)
	if async {
		limit = MaxAsyncPayload
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
		return
	}
	if int64(len(payload)) > limit {
		lambdaError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", limit))
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	requestID := newEventID()
	w.Header().Set("X-Amzn-RequestId", requestID)
	if async {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.runAsync(name, fn, payload, requestID, time.Now())
		}()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	out, ferr := s.run(context.WithoutCancel(r.Context()), name, fn, payload, requestID)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if ferr != nil {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(errorPayload(ferr))
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

func errorPayload(ferr *messages.InvokeResponse_Error) map[string]string {
	return map[string]string{"errorType": ferr.Type, "errorMessage": ferr.Message}
}

// timeout is the enforced timeout of a function.
func (s *LambdaServer) timeout(cfg FunctionConfig) time.Duration {
	t := cfg.Timeout
	if t <= 0 {
		t = 3 * time.Second
	}
	if s.TimeoutScale > 0 {
		t = time.Duration(float64(t) * s.TimeoutScale)
	}
	return t
}

// payloadStep is the "step" a Step Functions task payload names (the
// import functions serve several steps), or "" for any other payload; the
// timeout log line carries it so a reader (or a test) can tell which step
// of a function timed out.
func payloadStep(payload []byte) string {
	var p struct {
		Step string `json:"step"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return ""
	}
	return p.Step
}

// run runs one invocation under the function's timeout.
func (s *LambdaServer) run(ctx context.Context, name string, fn *function, payload []byte, requestID string) ([]byte, *messages.InvokeResponse_Error) {
	timeout := s.timeout(fn.cfg)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx, sb := withSandbox(ctx, name, requestID) // sandbox.go
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID, InvokedFunctionArn: FunctionARN(name)})
	type result struct {
		out  []byte
		ferr *messages.InvokeResponse_Error
	}
	done := make(chan result, 1)
	go func() {
		if d, ok := s.latency.Load(name); ok {
			select {
			case <-time.After(d.(time.Duration)):
			case <-ctx.Done():
				return // timed out while delayed: the select below reports it
			}
		}
		out, ferr := s.invoke(ctx, name, fn.h, payload)
		done <- result{out, ferr}
	}()
	select {
	case res := <-done:
		if res.ferr == nil && len(res.out) > MaxSyncPayload {
			return nil, &messages.InvokeResponse_Error{Type: "Function.ResponseSizeTooLarge",
				Message: fmt.Sprintf("Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).", len(res.out), MaxSyncPayload)}
		}
		return res.out, res.ferr
	case <-ctx.Done():
		// Lambda stops the sandbox; here the handler's context is
		// cancelled, its AWS requests from now on fail (sandbox.go) and
		// its result, whenever it comes, is dropped.
		sb.stopped.Store(true)
		s.log.Warn("function timed out", "function", name, "requestId", requestID, "timeout", timeout.String(), "step", payloadStep(payload))
		return nil, &messages.InvokeResponse_Error{Type: "Sandbox.Timedout",
			Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", requestID, timeout.Seconds())}
	}
}

// invoke runs a handler, turning errors and panics into what the Lambda
// runtime would report.
func (s *LambdaServer) invoke(ctx context.Context, name string, h lambda.Handler, payload []byte) (out []byte, ferr *messages.InvokeResponse_Error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("function panicked", "function", name, "panic", fmt.Sprint(p))
			ferr = &messages.InvokeResponse_Error{Type: "Runtime.ExitError", Message: "the function panicked"}
		}
	}()
	out, err := h.Invoke(ctx, payload)
	if err == nil {
		return out, nil
	}
	var ive messages.InvokeResponse_Error
	if errors.As(err, &ive) {
		return nil, &ive
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return nil, &messages.InvokeResponse_Error{Type: t.Name(), Message: err.Error()}
}

// retryDelay is how long Lambda waits before async retry n (1-based): one
// minute before the first, two before the second.
func retryDelay(n int) time.Duration { return time.Duration(n) * time.Minute }

func (s *LambdaServer) scaled(d time.Duration) time.Duration {
	if s.AsyncScale > 0 {
		return time.Duration(float64(d) * s.AsyncScale)
	}
	return d
}

// runAsync runs an Event invocation with its retries and destinations.
func (s *LambdaServer) runAsync(name string, fn *function, payload []byte, requestID string, queued time.Time) {
	cfg := fn.cfg.Async
	maxAge := s.scaled(cfg.MaxEventAge)
	for attempt := 1; ; attempt++ {
		out, ferr := s.run(context.Background(), name, fn, payload, requestID)
		if ferr == nil {
			if cfg.OnSuccess != "" {
				s.sendRecord(name, cfg.OnSuccess, invocationRecord(name, requestID, "Success", attempt, payload, nil, out))
			}
			return
		}
		s.log.Warn("async invocation failed", "function", name, "requestId", requestID, "attempt", attempt, "errorType", ferr.Type)
		condition := ""
		delay := s.scaled(retryDelay(attempt))
		switch {
		case attempt > cfg.MaxRetries:
			condition = "RetriesExhausted"
		case maxAge > 0 && time.Since(queued)+delay > maxAge:
			condition = "EventAgeExceeded"
		}
		if condition != "" {
			s.log.Error("async invocation discarded", "function", name, "requestId", requestID, "condition", condition, "attempts", attempt)
			if cfg.OnFailure != "" {
				s.sendRecord(name, cfg.OnFailure, invocationRecord(name, requestID, condition, attempt, payload, ferr, nil))
			}
			return
		}
		time.Sleep(delay)
	}
}

// InvocationRecord is what Lambda sends an asynchronous invocation's
// destination (AWS's documented shape).
type InvocationRecord struct {
	Version        string          `json:"version"`
	Timestamp      string          `json:"timestamp"`
	RequestContext RecordRequest   `json:"requestContext"`
	RequestPayload json.RawMessage `json:"requestPayload"`
	// ResponseContext and ResponsePayload are the last attempt's outcome.
	ResponseContext RecordResponse  `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

// RecordRequest is an invocation record's requestContext.
type RecordRequest struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"` // Success, RetriesExhausted, EventAgeExceeded
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// RecordResponse is an invocation record's responseContext.
type RecordResponse struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

func invocationRecord(name, requestID, condition string, attempts int, payload []byte, ferr *messages.InvokeResponse_Error, out []byte) InvocationRecord {
	rec := InvocationRecord{
		Version: "1.0", Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: RecordRequest{RequestID: requestID, FunctionARN: FunctionARN(name) + ":$LATEST", Condition: condition, ApproximateInvokeCount: attempts},
		RequestPayload: asJSON(payload), ResponseContext: RecordResponse{StatusCode: 200, ExecutedVersion: "$LATEST"},
		ResponsePayload: asJSON(out),
	}
	if ferr != nil {
		rec.ResponseContext.FunctionError = "Unhandled"
		b, _ := json.Marshal(errorPayload(ferr))
		rec.ResponsePayload = b
	}
	return rec
}

// asJSON keeps a JSON payload as it is and quotes anything else.
func asJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	if json.Valid(b) {
		return b
	}
	q, _ := json.Marshal(string(b))
	return q
}

// sendRecord invokes a destination function asynchronously with rec.
func (s *LambdaServer) sendRecord(from, dest string, rec InvocationRecord) {
	if s.Destinations == nil {
		s.log.Warn("no destination invoker; record dropped", "function", from, "destination", dest, "condition", rec.RequestContext.Condition)
		return
	}
	body, err := json.Marshal(rec)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err = s.Destinations.Invoke(ctx, &awslambda.InvokeInput{
			FunctionName: aws.String(dest), InvocationType: lambdatypes.InvocationTypeEvent, Payload: body,
		})
	}
	if err != nil {
		s.log.Error("destination invocation failed", "function", from, "destination", dest, "err", err.Error())
	}
}

func lambdaError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}
