package devstack

import (
	"encoding/json"
	"testing"
)

func TestMatch(t *testing.T) {
	event := `{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b1"},"object":{"key":"imports/t1/site/a.csv","size":10},"tags":["x","y"]}}`
	tests := []struct {
		name    string
		pattern string
		want    bool
		wantErr bool
	}{
		{"exact and prefix", `{"source":["aws.s3"],"detail":{"bucket":{"name":["b1"]},"object":{"key":[{"prefix":"imports/"}]}}}`, true, false},
		{"other bucket", `{"detail":{"bucket":{"name":["b2"]}}}`, false, false},
		{"prefix misses", `{"detail":{"object":{"key":[{"prefix":"exports/"}]}}}`, false, false},
		{"one of several values", `{"detail-type":["Object Deleted","Object Created"]}`, true, false},
		{"number", `{"detail":{"object":{"size":[10]}}}`, true, false},
		{"suffix", `{"detail":{"object":{"key":[{"suffix":".csv"}]}}}`, true, false},
		{"anything-but", `{"source":[{"anything-but":["aws.s3"]}]}`, false, false},
		{"exists false on present field", `{"detail":{"object":{"key":[{"exists":false}]}}}`, false, false},
		{"exists true on missing field", `{"detail":{"nope":[{"exists":true}]}}`, false, false},
		{"exists false on missing field", `{"detail":{"nope":[{"exists":false}]}}`, true, false},
		{"missing field", `{"account":["1"]}`, false, false},
		{"array value matches any element", `{"detail":{"tags":["y"]}}`, true, false},
		{"unsupported operator is an error", `{"source":[{"wildcard":"aws.*"}]}`, false, true},
		{"leaf must be a list", `{"source":"aws.s3"}`, false, true},
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(event), &ev); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p any
			if err := json.Unmarshal([]byte(tt.pattern), &p); err != nil {
				t.Fatal(err)
			}
			got, err := Match(p, ev)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}
