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

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

// LambdaServer serves the Lambda Invoke API
// (POST /2015-03-31/functions/<name or ARN>/invocations) and runs the
// registered handler for the named function in-process, the way
// `sam local start-lambda` would run the binary.
type LambdaServer struct {
	mu       sync.RWMutex
	handlers map[string]lambda.Handler
	log      *slog.Logger
}

// NewLambdaServer returns an empty server.
func NewLambdaServer(log *slog.Logger) *LambdaServer {
	return &LambdaServer{handlers: map[string]lambda.Handler{}, log: log}
}

// Register makes h the handler of function name.
func (s *LambdaServer) Register(name string, h lambda.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[name] = h
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
	h, ok := s.handlers[name]
	s.mu.RUnlock()
	if !ok {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+FunctionARN(name))
		return
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
		return
	}
	if r.Header.Get("X-Amz-Invocation-Type") == "Event" {
		go func() { _, _ = s.invoke(context.WithoutCancel(r.Context()), name, h, payload) }()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	out, ferr := s.invoke(r.Context(), name, h, payload)
	w.Header().Set("Content-Type", "application/json")
	if ferr != nil {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(map[string]any{"errorType": ferr.Type, "errorMessage": ferr.Message})
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
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

func lambdaError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}
