package openapitest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// spy is a testing.TB that records failures instead of failing.
type spy struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (s *spy) Errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

func (s *spy) Helper() {}

// TestCheckCatchesWhatTheDocumentDoesNotSay: answers the document
// describes pass; an undocumented status, a body that breaks its schema,
// a missing required field, and a non-problem answer to an unknown route
// fail the test.
func TestCheckCatchesWhatTheDocumentDoesNotSay(t *testing.T) {
	json := http.Header{"Content-Type": {"application/json"}}
	problemHdr := http.Header{"Content-Type": {"application/problem+json"}, "X-Request-Id": {"abc"}}
	problem := `{"type":"x","title":"Not Found","status":404,"detail":"job not found","code":"NOT_FOUND","instance":"urn:bulkops:request:abc"}`
	job := `{"id":"01JZZZZZZZZZZZZZZZZZZZZZZZ","type":"import","objectType":"queue","fileName":"q.csv","status":"Completed","submittedBy":"a","submittedAt":"2026-01-01T00:00:00Z","counts":{"total":1,"processed":1,"created":1,"updated":0,"unchanged":0,"failed":0},"percent":100}`
	tests := []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		ok                 bool
	}{
		{"a job", "GET", "/v1/jobs/01JZZZZZZZZZZZZZZZZZZZZZZZ", 200, json, job, true},
		{"a job behind a stage", "GET", "/dev/v1/jobs/01JZZZZZZZZZZZZZZZZZZZZZZZ", 200, json, job, true},
		{"not found", "GET", "/v1/jobs/01JZZZZZZZZZZZZZZZZZZZZZZZ", 404, problemHdr, problem, true},
		{"unknown route", "GET", "/v1/nope", 404, problemHdr, problem, true},
		{"undocumented status", "GET", "/v1/jobs/01JZZZZZZZZZZZZZZZZZZZZZZZ", 418, problemHdr, problem, false},
		{"wrong type", "GET", "/v1/jobs/01JZZZZZZZZZZZZZZZZZZZZZZZ", 200, json, strings.Replace(job, `"percent":100`, `"percent":"all"`, 1), false},
		{"missing field", "GET", "/v1/jobs/01JZZZZZZZZZZZZZZZZZZZZZZZ", 200, json, strings.Replace(job, `"status":"Completed",`, "", 1), false},
		{"problem without instance", "GET", "/v1/jobs/01JZZZZZZZZZZZZZZZZZZZZZZZ", 404, problemHdr, strings.Replace(problem, `,"instance":"urn:bulkops:request:abc"`, "", 1), false},
		{"unknown route, plain text", "GET", "/v1/nope", 404, http.Header{"Content-Type": {"text/plain"}}, "404 page not found", false},
	}
	for _, tt := range tests {
		s := &spy{TB: t}
		req, _ := http.NewRequest(tt.method, "http://api.example"+tt.path, nil)
		Check(s, req, tt.status, tt.header, []byte(tt.body))
		if ok := len(s.errs) == 0; ok != tt.ok {
			t.Errorf("%s: passed=%v, want %v: %v", tt.name, ok, tt.ok, s.errs)
		}
	}
}
