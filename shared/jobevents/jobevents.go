// Package jobevents publishes every job status transition (New, In
// Progress, Completed, Completed with errors, Failed) as an EventBridge
// event ("Bulk Job Status Changed"), and an "Export Failed" event when a
// scheduled export fails, so tenants and operators can subscribe (e-mail,
// chat, webhooks) without polling. Delivery is at least once: a step whose publish fails is
// retried by the state machine, and the transition itself is idempotent.
package jobevents

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// Source is the events' source field.
const Source = "bulkops"

// DetailType is the events' detail-type field.
const DetailType = "Bulk Job Status Changed"

// Detail is the event's detail document.
type Detail struct {
	Tenant      string      `json:"tenant"`
	JobID       string      `json:"jobId"`
	JobType     jobs.Type   `json:"jobType"`
	ObjectType  string      `json:"objectType"`
	FileName    string      `json:"fileName"`
	Status      jobs.Status `json:"status"`
	DryRun      bool        `json:"dryRun"`
	SubmittedBy string      `json:"submittedBy"`
	Counts      jobs.Counts `json:"counts"`
	Message     string      `json:"message,omitempty"`
	// Phase is where a Failed job failed (jobs.FailurePhase).
	Phase     string     `json:"phase,omitempty"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
}

// putter is the part of the EventBridge client the publisher uses.
type putter interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher sends job events to one event bus.
type Publisher struct {
	client putter
	bus    string
}

// New returns a publisher to bus ("default" when empty).
func New(client putter, bus string) *Publisher {
	if bus == "" {
		bus = "default"
	}
	return &Publisher{client: client, bus: bus}
}

// DetailOf builds the event detail of a job.
func DetailOf(j jobs.Job) Detail {
	return Detail{
		Tenant: j.Tenant, JobID: j.ID, JobType: j.Type, ObjectType: j.ObjectType, FileName: j.FileName,
		Status: j.Status, DryRun: j.DryRun, SubmittedBy: j.SubmittedBy, Counts: j.Counts, Message: j.Message,
		Phase: jobs.FailurePhase(j), StartedAt: j.StartedAt, EndedAt: j.EndedAt,
	}
}

// JobChanged publishes the job's current state. A failure is Transient, so
// the step that made the transition is retried and publishes again.
func (p *Publisher) JobChanged(ctx context.Context, j jobs.Job) error {
	return p.put(ctx, DetailType, DetailOf(j), fmt.Sprintf("the %s event of job %s", j.Status, j.ID))
}

// ExportFailedType is the detail-type of the event a failed scheduled
// export sends.
const ExportFailedType = "Export Failed"

// ExportFailedDetail is the detail of an "Export Failed" event: which
// schedule's run failed, its object types, the phase it failed in
// (jobs.FailurePhase), why, how many runs in a row failed, and whether
// the schedule suspended itself (a jobs.ExportFailure as it goes on the
// bus).
type ExportFailedDetail struct {
	Tenant              string   `json:"tenant"`
	ScheduleID          string   `json:"scheduleId"`
	Title               string   `json:"title"`
	JobID               string   `json:"jobId"`
	ObjectTypes         []string `json:"objectTypes,omitempty"`
	Phase               string   `json:"phase,omitempty"`
	Reason              string   `json:"reason"`
	ConsecutiveFailures int      `json:"consecutiveFailures"`
	Suspended           bool     `json:"suspended"`
}

// ExportFailed publishes f as an "Export Failed" event. A failure is
// Transient.
func (p *Publisher) ExportFailed(ctx context.Context, f jobs.ExportFailure) error {
	return p.put(ctx, ExportFailedType, ExportFailedDetail(f), fmt.Sprintf("the Export Failed event of job %s (schedule %s)", f.JobID, f.ScheduleID))
}

// put sends one event with source Source.
func (p *Publisher) put(ctx context.Context, detailType string, detail any, what string) error {
	raw, err := json.Marshal(detail)
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "encoding %s", what)
	}
	out, err := p.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String(p.bus), Source: aws.String(Source), DetailType: aws.String(detailType),
		Detail: aws.String(string(raw)), Resources: []string{},
	}}})
	if err != nil {
		return bulkerr.Wrap(bulkerr.Transient, err, "publishing %s", what)
	}
	if out.FailedEntryCount > 0 {
		msg := ""
		if len(out.Entries) > 0 {
			msg = aws.ToString(out.Entries[0].ErrorCode) + ": " + aws.ToString(out.Entries[0].ErrorMessage)
		}
		return bulkerr.New(bulkerr.Transient, "publishing %s was refused (%s)", what, msg)
	}
	return nil
}
