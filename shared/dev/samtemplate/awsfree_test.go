package samtemplate_test

import (
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// module is the module path the package table below is relative to.
const module = "github.com/ccbulk/bulkops/"

// awsFree lists the packages that must link nothing from AWS (no
// aws-sdk-go-v2, smithy-go or aws-lambda-go, directly or through another
// package): the workflows and the domain they speak. They reach AWS only
// through the consumer-side interfaces they declare, which the adapters
// (dynamostore, s3store, jobevents, apigwlambda, …) implement and the
// wiring packages (*app) plug in.
var awsFree = []struct {
	pkg, what string
}{
	// Workflows.
	{"shared/importflow", "the import state machine's steps"},
	{"shared/jobcancel", "cancelling a running job"},
	{"shared/jobcleanup", "ending jobs whose workflow died"},
	{"shared/exportflow", "running one export job, dispatching scheduled exports"},
	{"shared/httpapi", "the HTTP API"},
	{"shared/retry", "retrying a finished import's rejected rows"},
	// Their domain.
	{"shared/blob", "stored files as the workflows see them"},
	{"shared/bulkapi", "the API's wire types"},
	{"shared/bulkerr", "the error kinds and their one table"},
	{"shared/catalog", "configuration objects and their planned writes"},
	{"shared/config", "the functions' typed configuration"},
	{"shared/csvexport", "writing objects as CSV"},
	{"shared/csvimport", "deciding what each import row does"},
	{"shared/csvread", "reading import files"},
	{"shared/delivery", "delivery targets, their phases and receipts"},
	{"shared/exportspec", "what an export writes"},
	{"shared/exportzip", "the export ZIP stream"},
	{"shared/idempotency", "replayed answers to Idempotency-Keys"},
	{"shared/ident", "job and object IDs"},
	{"shared/jobs", "bulk jobs"},
	{"shared/notify", "tenants' notifications: contacts, notices, signatures, delivery"},
	{"shared/objecttype", "the object type registry"},
	{"shared/schedule", "when a scheduled export runs"},
	{"shared/tenancy", "a tenant's lock and settings"},
}

// TestWorkflowPackagesLinkNoAWS runs `go list -deps` on every package of
// awsFree and fails for each one that links a module of github.com/aws/,
// naming what it links.
func TestWorkflowPackagesLinkNoAWS(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	args := []string{"list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}
	for _, p := range awsFree {
		args = append(args, "./"+p.pkg)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = filepath.Join("..", "..", "..")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, msg)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		deps[strings.TrimPrefix(fields[0], module)] = fields[1:]
	}
	for _, p := range awsFree {
		t.Run(p.pkg, func(t *testing.T) {
			d, ok := deps[p.pkg]
			if !ok {
				t.Fatalf("go list did not report %s (%s)", p.pkg, p.what)
			}
			var aws []string
			for _, dep := range d {
				if strings.HasPrefix(dep, "github.com/aws/") {
					aws = append(aws, dep)
				}
			}
			if len(aws) > 0 {
				sort.Strings(aws)
				t.Errorf("%s (%s) links %d AWS packages, want none; first: %s", p.pkg, p.what, len(aws), strings.Join(aws[:min(len(aws), 5)], ", "))
			}
		})
	}
}
