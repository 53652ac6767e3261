package main

import (
	"bytes"
	"os"
	"testing"
)

// TestDocUpToDate fails when docs/object-types.md differs from what the
// registry renders; regenerate with go run ./cmd/typedoc > docs/object-types.md.
func TestDocUpToDate(t *testing.T) {
	var buf bytes.Buffer
	render(&buf)
	got, err := os.ReadFile("../../docs/object-types.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Fatal("docs/object-types.md is out of date: run go run ./cmd/typedoc > docs/object-types.md")
	}
}
