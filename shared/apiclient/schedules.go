package apiclient

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// Schedule is a scheduled export as the API shows it.
type Schedule struct {
	dynamostore.Schedule
	// WhenText is the schedule in words.
	WhenText string `json:"whenText"`
}

// ScheduleBody is the definition sent to create a schedule or, with
// Version, to edit one.
type ScheduleBody struct {
	Title       string             `json:"title"`
	Description string             `json:"description,omitempty"`
	ObjectTypes []string           `json:"objectTypes"`
	Prefix      string             `json:"prefix,omitempty"`
	When        schedule.Spec      `json:"when"`
	Options     exportspec.Options `json:"options,omitzero"`
	MaxFailures *int               `json:"maxFailures,omitempty"`
	// Version is the version the edit was made from (edits only).
	Version *int64 `json:"version,omitempty"`
}

// Body is the editable definition of s at its version.
func (s Schedule) Body() ScheduleBody {
	mf, v := s.MaxFailures, s.Version
	return ScheduleBody{
		Title: s.Title, Description: s.Description, ObjectTypes: s.ObjectTypes, Prefix: s.Prefix,
		When: s.Spec, Options: s.Options, MaxFailures: &mf, Version: &v,
	}
}

// Run is one run of a schedule with its job's status.
type Run struct {
	JobID      string            `json:"jobId"`
	Planned    time.Time         `json:"planned,omitzero"`
	Window     exportspec.Window `json:"window,omitzero"`
	Test       bool              `json:"test,omitempty"`
	At         time.Time         `json:"at"`
	Status     jobs.Status       `json:"status"`
	StartedAt  *time.Time        `json:"startedAt,omitempty"`
	EndedAt    *time.Time        `json:"endedAt,omitempty"`
	Rows       int               `json:"rows"`
	Files      int               `json:"files,omitempty"`
	FileName   string            `json:"fileName,omitempty"`
	Error      string            `json:"error,omitempty"`
	Percent    int               `json:"percent"`
	ETASeconds *int64            `json:"etaSeconds,omitempty"`
	Links      *struct {
		Results string `json:"results,omitempty"`
	} `json:"links,omitempty"`
}

func schedulePath(id string, action string) string {
	p := "/v1/schedules/" + url.PathEscape(id)
	if action != "" {
		p += "/" + action
	}
	return p
}

// Schedules lists the tenant's schedules.
func (c *Client) Schedules(ctx context.Context) ([]Schedule, error) {
	var out struct {
		Schedules []Schedule `json:"schedules"`
	}
	err := c.do(ctx, "GET", "/v1/schedules", nil, &out)
	return out.Schedules, err
}

// Schedule returns one schedule.
func (c *Client) Schedule(ctx context.Context, id string) (Schedule, error) {
	var s Schedule
	err := c.do(ctx, "GET", schedulePath(id, ""), nil, &s)
	return s, err
}

// CreateSchedule creates a schedule (b.Version is not sent).
func (c *Client) CreateSchedule(ctx context.Context, b ScheduleBody) (Schedule, error) {
	b.Version = nil
	var s Schedule
	err := c.do(ctx, "POST", "/v1/schedules", b, &s)
	return s, err
}

// UpdateSchedule replaces a schedule's definition; b.Version must be the
// version it was read at.
func (c *Client) UpdateSchedule(ctx context.Context, id string, b ScheduleBody) (Schedule, error) {
	if b.Version == nil {
		return Schedule{}, fmt.Errorf("editing schedule %s needs the version it was read at", id)
	}
	var s Schedule
	err := c.do(ctx, "PUT", schedulePath(id, ""), b, &s)
	return s, err
}

// DeleteSchedule deletes a schedule.
func (c *Client) DeleteSchedule(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", schedulePath(id, ""), nil, nil)
}

// CloneSchedule copies a schedule; an empty title makes "Copy of …".
func (c *Client) CloneSchedule(ctx context.Context, id, title string) (Schedule, error) {
	var body any
	if title != "" {
		body = map[string]string{"title": title}
	}
	var s Schedule
	err := c.do(ctx, "POST", schedulePath(id, "clone"), body, &s)
	return s, err
}

// SuspendSchedule suspends a schedule.
func (c *Client) SuspendSchedule(ctx context.Context, id string) (Schedule, error) {
	var s Schedule
	err := c.do(ctx, "POST", schedulePath(id, "suspend"), nil, &s)
	return s, err
}

// ResumeSchedule resumes a schedule.
func (c *Client) ResumeSchedule(ctx context.Context, id string) (Schedule, error) {
	var s Schedule
	err := c.do(ctx, "POST", schedulePath(id, "resume"), nil, &s)
	return s, err
}

// TestSchedule starts a test export of a schedule.
func (c *Client) TestSchedule(ctx context.Context, id string) (Job, error) {
	var j Job
	err := c.do(ctx, "POST", schedulePath(id, "test"), nil, &j)
	return j, err
}

// ScheduleRuns returns a schedule's history, newest first (limit 1 to 100;
// 0 for the API's default).
func (c *Client) ScheduleRuns(ctx context.Context, id string, limit int) ([]Run, error) {
	p := schedulePath(id, "runs")
	if limit > 0 {
		p += fmt.Sprintf("?limit=%d", limit)
	}
	var out struct {
		Runs []Run `json:"runs"`
	}
	err := c.do(ctx, "GET", p, nil, &out)
	return out.Runs, err
}
