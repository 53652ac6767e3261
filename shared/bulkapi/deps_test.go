package bulkapi_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/dev/localtest"
)

// goTool is the go command that runs this test (its GOROOT's), or the one
// on PATH.
func goTool(t *testing.T) string {
	t.Helper()
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); runtime.GOROOT() != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to list dependencies with: %v", err)
	}
	return p
}

// TestClientsLinkNoStorageSDK: the wire types link no AWS SDK at all, and
// the API client and the CLI link no DynamoDB SDK (they speak HTTP to the
// API and nothing else), as `go list -deps` reports them.
func TestClientsLinkNoStorageSDK(t *testing.T) {
	root, gocmd := localtest.RepoRoot(t), goTool(t)
	tests := []struct {
		pkg string
		// must be among the dependencies: proof that the list is the
		// package's.
		has []string
		// no dependency may start with any of these.
		not []string
	}{
		{"./shared/bulkapi", []string{"github.com/ccbulk/bulkops/shared/bulkapi", "github.com/ccbulk/bulkops/shared/schedule"},
			[]string{"github.com/aws/"}},
		{"./shared/apiclient", []string{"github.com/ccbulk/bulkops/shared/apiclient", "github.com/ccbulk/bulkops/shared/bulkapi", "net/http"},
			[]string{"github.com/aws/aws-sdk-go-v2/service/dynamodb", "github.com/ccbulk/bulkops/shared/dynamostore"}},
		{"./cmd/bulkops", []string{"github.com/ccbulk/bulkops/cmd/bulkops", "github.com/ccbulk/bulkops/shared/apiclient", "github.com/spf13/cobra"},
			[]string{"github.com/aws/aws-sdk-go-v2/service/dynamodb", "github.com/ccbulk/bulkops/shared/dynamostore"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			cmd := exec.Command(gocmd, "list", "-deps", tt.pkg)
			cmd.Dir = root
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("go list -deps %s: %v\n%s", tt.pkg, err, stderr)
			}
			list := strings.Fields(string(out))
			deps := map[string]bool{}
			for _, d := range list {
				deps[d] = true
			}
			for _, want := range tt.has {
				if !deps[want] {
					t.Errorf("go list -deps %s does not list %s (%d packages listed)", tt.pkg, want, len(deps))
				}
			}
			for _, d := range list {
				for _, bad := range tt.not {
					if strings.HasPrefix(d, bad) {
						t.Errorf("%s links %s", tt.pkg, d)
					}
				}
			}
		})
	}
}
