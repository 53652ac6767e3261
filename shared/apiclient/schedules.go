package apiclient

import (
	"context"
	"encoding/json"
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
	// Raw is the schedule document as received.
	Raw json.RawMessage `json:"-"`
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

// SchedulePage is one page of schedules.
type SchedulePage struct {
	Schedules  []Schedule      `json:"schedules"`
	NextCursor string          `json:"nextCursor,omitempty"`
	Raw        json.RawMessage `json:"-"`
}

// SchedulesPage returns one page of the tenant's schedules, oldest first
// (cursor "" for the first).
func (c *Client) SchedulesPage(ctx context.Context, cursor string) (SchedulePage, error) {
	var out SchedulePage
	p := "/v1/schedules"
	if cursor != "" {
		p += "?cursor=" + url.QueryEscape(cursor)
	}
	raw, err := c.Do(ctx, "GET", p, nil, &out)
	out.Raw = raw
	return out, err
}

// Schedules lists every schedule of the tenant.
func (c *Client) Schedules(ctx context.Context) ([]Schedule, error) {
	var all []Schedule
	cursor := ""
	for {
		p, err := c.SchedulesPage(ctx, cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Schedules...)
		if p.NextCursor == "" {
			return all, nil
		}
		cursor = p.NextCursor
	}
}

func (c *Client) schedule(ctx context.Context, method, path string, body any) (Schedule, error) {
	var s Schedule
	raw, err := c.Do(ctx, method, path, body, &s)
	s.Raw = raw
	return s, err
}

// Schedule returns one schedule.
func (c *Client) Schedule(ctx context.Context, id string) (Schedule, error) {
	return c.schedule(ctx, "GET", schedulePath(id, ""), nil)
}

// CreateSchedule creates a schedule (b.Version is not sent).
func (c *Client) CreateSchedule(ctx context.Context, b ScheduleBody) (Schedule, error) {
	b.Version = nil
	return c.schedule(ctx, "POST", "/v1/schedules", b)
}

// UpdateSchedule replaces a schedule's definition; b.Version must be the
// version it was read at (409 when someone changed it meanwhile).
func (c *Client) UpdateSchedule(ctx context.Context, id string, b ScheduleBody) (Schedule, error) {
	if b.Version == nil {
		return Schedule{}, fmt.Errorf("editing schedule %s needs the version it was read at", id)
	}
	return c.schedule(ctx, "PUT", schedulePath(id, ""), b)
}

// DeleteSchedule deletes a schedule.
func (c *Client) DeleteSchedule(ctx context.Context, id string) error {
	_, err := c.Do(ctx, "DELETE", schedulePath(id, ""), nil, nil)
	return err
}

// CloneSchedule copies a schedule; an empty title makes "Copy of …".
func (c *Client) CloneSchedule(ctx context.Context, id, title string) (Schedule, error) {
	var body any
	if title != "" {
		body = map[string]string{"title": title}
	}
	return c.schedule(ctx, "POST", schedulePath(id, "clone"), body)
}

// SuspendSchedule suspends a schedule.
func (c *Client) SuspendSchedule(ctx context.Context, id string) (Schedule, error) {
	return c.schedule(ctx, "POST", schedulePath(id, "suspend"), nil)
}

// ResumeSchedule resumes a schedule.
func (c *Client) ResumeSchedule(ctx context.Context, id string) (Schedule, error) {
	return c.schedule(ctx, "POST", schedulePath(id, "resume"), nil)
}

// TestSchedule starts a test export of a schedule.
func (c *Client) TestSchedule(ctx context.Context, id string) (Job, error) {
	return c.job(ctx, "POST", schedulePath(id, "test"), nil)
}

// RunPage is one page of a schedule's history.
type RunPage struct {
	Runs       []Run           `json:"runs"`
	NextCursor string          `json:"nextCursor,omitempty"`
	Raw        json.RawMessage `json:"-"`
}

// RunsPage returns one page of a schedule's history, newest first (limit
// 1 to 100, 0 for the API's default; cursor "" for the first page).
func (c *Client) RunsPage(ctx context.Context, id string, limit int, cursor string) (RunPage, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	p := schedulePath(id, "runs")
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var out RunPage
	raw, err := c.Do(ctx, "GET", p, nil, &out)
	out.Raw = raw
	return out, err
}

// ScheduleRuns returns the first page of a schedule's history, newest
// first (limit 1 to 100; 0 for the API's default).
func (c *Client) ScheduleRuns(ctx context.Context, id string, limit int) ([]Run, error) {
	p, err := c.RunsPage(ctx, id, limit, "")
	return p.Runs, err
}
