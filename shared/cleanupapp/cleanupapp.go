// Package cleanupapp assembles the job-cleanup function (package
// jobcleanup): awswire reads the configuration once and builds the
// AWS-backed stores, and this package adapts them to the cleaner: the
// DynamoDB store for jobs, locks and expired leases, and Step Functions'
// GetExecutionHistory for the job an import execution registered. The
// Lambda binary (functions/job-cleanup) and the local dev server call it.
package cleanupapp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/awswire"
	"github.com/ccbulk/bulkops/shared/config"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/jobcleanup"
	"github.com/ccbulk/bulkops/shared/stepfunc"
)

// New builds the cleaner from the environment.
func New(ctx context.Context, getenv func(string) string, logOut io.Writer) (*jobcleanup.Cleaner, error) {
	res, err := awswire.Open(ctx, getenv)
	if err != nil {
		return nil, err
	}
	states := awsenv.SFN(res.AWS)
	c := Assemble(res.DB, states, res.Logger(logOut))
	c.Grace = res.Config.SweepGrace
	if machine := res.Config.ImportStateMachine; machine != "" {
		c.Running = RunningImports{Client: states, StateMachine: machine}
	}
	c.Events = res.Events
	return c, nil
}

// Assemble builds a cleaner from its parts (without an event publisher),
// with the sweeper's default grace (BULKOPS_SWEEP_GRACE_SECONDS); tests use
// it with their own tables and clock.
func Assemble(db *dynamostore.Store, states HistoryClient, log *slog.Logger) *jobcleanup.Cleaner {
	return &jobcleanup.Cleaner{
		Jobs: db, Locks: db, Leases: Leases{Store: db}, Executions: Executions{Client: states},
		Grace: config.Defaults().SweepGrace, Now: time.Now, Log: log,
	}
}

// Handler is the cleanup function's Lambda handler.
func Handler(c *jobcleanup.Cleaner) func(context.Context, json.RawMessage) (jobcleanup.Result, error) {
	return stepfunc.Handler(c.Log, c.Handle)
}

// Leases adapts the store's expired leases to the sweeper.
type Leases struct{ Store *dynamostore.Store }

// ExpiredLeases lists tenant locks whose lease ended before before.
func (l Leases) ExpiredLeases(ctx context.Context, before time.Time, limit int) ([]jobcleanup.Lease, error) {
	got, err := l.Store.ExpiredLeases(ctx, before, limit)
	out := make([]jobcleanup.Lease, 0, len(got))
	for _, g := range got {
		out = append(out, jobcleanup.Lease{Tenant: g.Tenant, Holder: g.Holder, Until: g.Until})
	}
	return out, err
}

// HistoryClient is the part of the Step Functions client Executions uses.
type HistoryClient interface {
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, opts ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

// StartState is the import state machine's first state
// (statemachines/import.asl.json): its output names the job.
const StartState = "StartJob"

// historyPages bounds the history read for StartJob's output: it is among
// the first events (a dozen even with every retry), so a few pages do.
const historyPages = 5

// Executions finds the job an import execution registered in its history:
// the output of its StartJob state ({"job": {"tenant", "jobId"},
// "duplicate"}).
type Executions struct{ Client HistoryClient }

// ExecutionJob implements jobcleanup's executionJobs.
func (e Executions) ExecutionJob(ctx context.Context, executionArn string) (jobcleanup.JobRef, bool, error) {
	in := &sfn.GetExecutionHistoryInput{
		ExecutionArn: &executionArn, MaxResults: 100, IncludeExecutionData: aws.Bool(true),
	}
	for page := 0; page < historyPages; page++ {
		out, err := e.Client.GetExecutionHistory(ctx, in)
		if err != nil {
			return jobcleanup.JobRef{}, false, fmt.Errorf("reading the history of %s: %w", executionArn, err)
		}
		for _, ev := range out.Events {
			if ev.Type != sfntypes.HistoryEventTypeTaskStateExited || ev.StateExitedEventDetails == nil ||
				aws.ToString(ev.StateExitedEventDetails.Name) != StartState {
				continue
			}
			var doc struct {
				Job struct {
					Tenant string `json:"tenant"`
					JobID  string `json:"jobId"`
				} `json:"job"`
				Duplicate bool `json:"duplicate"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(ev.StateExitedEventDetails.Output)), &doc); err != nil {
				return jobcleanup.JobRef{}, false, fmt.Errorf("the %s output of %s: %w", StartState, executionArn, err)
			}
			if doc.Duplicate || doc.Job.Tenant == "" || doc.Job.JobID == "" {
				return jobcleanup.JobRef{}, false, nil
			}
			return jobcleanup.JobRef{Tenant: doc.Job.Tenant, JobID: doc.Job.JobID}, true, nil
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	return jobcleanup.JobRef{}, false, nil
}

// ExecutionsClient is the part of the Step Functions client
// RunningImports uses.
type ExecutionsClient interface {
	HistoryClient
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, opts ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
}

// maxRunning bounds the running executions one sweep looks at; past it
// the sweep cannot tell and fails no import (it logs and tries again).
const maxRunning = 2000

// RunningImports lists the jobs of the import state machine's RUNNING
// executions: ListExecutions (status RUNNING), and each execution's job
// from its history (Executions). The sweeper asks only in a tick that
// found an unfinished import past its lease, which is rare.
type RunningImports struct {
	Client       ExecutionsClient
	StateMachine string // ARN
}

// RunningJobs implements jobcleanup's runningExecutions.
func (r RunningImports) RunningJobs(ctx context.Context) (map[jobcleanup.JobRef]bool, error) {
	out := map[jobcleanup.JobRef]bool{}
	in := &sfn.ListExecutionsInput{StateMachineArn: &r.StateMachine, StatusFilter: sfntypes.ExecutionStatusRunning, MaxResults: 1000}
	seen := 0
	for {
		page, err := r.Client.ListExecutions(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("listing the running executions of %s: %w", r.StateMachine, err)
		}
		for _, e := range page.Executions {
			if seen++; seen > maxRunning {
				return nil, fmt.Errorf("more than %d running executions of %s", maxRunning, r.StateMachine)
			}
			ref, found, err := Executions{Client: r.Client}.ExecutionJob(ctx, aws.ToString(e.ExecutionArn))
			if err != nil {
				return nil, err
			}
			if found {
				out[ref] = true
			}
		}
		if page.NextToken == nil {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}
