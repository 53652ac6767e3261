// Package jobevents publishes every job status transition (New, In
// Progress, Completed, Completed with errors, Failed) as an EventBridge
// event, so tenants and operators can subscribe (e-mail, chat, webhooks)
// without polling. Delivery is at least once: a step whose publish fails is
// retried by the state machine, and the transition itself is idempotent.
package jobevents

import (
	"context"
	"encoding/json"
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
	StartedAt   *time.Time  `json:"startedAt,omitempty"`
	EndedAt     *time.Time  `json:"endedAt,omitempty"`
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
		StartedAt: j.StartedAt, EndedAt: j.EndedAt,
	}
}

// JobChanged publishes the job's current state. A failure is Transient, so
// the step that made the transition is retried and publishes again.
func (p *Publisher) JobChanged(ctx context.Context, j jobs.Job) error {
	raw, err := json.Marshal(DetailOf(j))
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "encoding the event of job %s", j.ID)
	}
	out, err := p.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String(p.bus), Source: aws.String(Source), DetailType: aws.String(DetailType),
		Detail: aws.String(string(raw)), Resources: []string{},
	}}})
	if err != nil {
		return bulkerr.Wrap(bulkerr.Transient, err, "publishing the %s event of job %s", j.Status, j.ID)
	}
	if out.FailedEntryCount > 0 {
		msg := ""
		if len(out.Entries) > 0 {
			msg = aws.ToString(out.Entries[0].ErrorCode) + ": " + aws.ToString(out.Entries[0].ErrorMessage)
		}
		return bulkerr.New(bulkerr.Transient, "publishing the %s event of job %s was refused (%s)", j.Status, j.ID, msg)
	}
	return nil
}
