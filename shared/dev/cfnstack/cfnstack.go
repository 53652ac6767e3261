// Package cfnstack reads the app's stack as CloudFormation deployed it from
// template.yaml into LocalStack (infra/local/localstack/deploy.sh writes
// its description: status, outputs and every resource's physical ID), so
// tests of the LocalStack backend find the deployed bucket, tables, state
// machines and functions by their template logical IDs.
package cfnstack

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

// Resource is one resource of the stack.
type Resource struct {
	Type       string `json:"type"`
	PhysicalID string `json:"physicalId"`
	Status     string `json:"status"`
}

// Stack is the deployed stack's description.
type Stack struct {
	Name    string            `json:"stackName"`
	Status  string            `json:"status"`
	Outputs map[string]string `json:"outputs"`
	// Parameters are the values the stack was deployed with.
	Parameters map[string]string   `json:"parameters"`
	Resources  map[string]Resource `json:"resources"`
}

// PhysicalIDs maps every resource's logical ID to its physical ID.
func (s *Stack) PhysicalIDs() map[string]string {
	out := make(map[string]string, len(s.Resources))
	for id, r := range s.Resources {
		if r.PhysicalID != "" {
			out[id] = r.PhysicalID
		}
	}
	return out
}

// Load reads a description written by deploy.sh.
func Load(path string) (*Stack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the deployed stack's description: %w (infra/local/localstack/deploy.sh writes it)", err)
	}
	var s Stack
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("the deployed stack's description %s: %w", path, err)
	}
	return &s, nil
}

// Require skips the test unless the LocalStack backend is selected
// (BULKOPS_BACKEND=localstack, as make test-localstack runs it) and
// integration tests are on; there it fails, never skips, when the stack's
// description is missing.
func Require(t testing.TB) *Stack {
	t.Helper()
	if os.Getenv("BULKOPS_INTEGRATION") != "1" || os.Getenv("BULKOPS_BACKEND") != "localstack" {
		t.Skip("LocalStack backend test: run `make test-localstack`")
	}
	path := os.Getenv("BULKOPS_LOCALSTACK_STACK_FILE")
	if path == "" {
		t.Fatal("BULKOPS_LOCALSTACK_STACK_FILE is not set; source infra/local/env.sh with BULKOPS_BACKEND=localstack")
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Physical is the physical ID of the resource with logical ID id (a
// bucket's or table's name, a state machine's ARN, a function's name).
func (s *Stack) Physical(t testing.TB, id string) string {
	t.Helper()
	r, ok := s.Resources[id]
	if !ok || r.PhysicalID == "" {
		t.Fatalf("stack %s has no resource %s", s.Name, id)
	}
	return r.PhysicalID
}
