package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// Schedule is a scheduled export as the API shows it (Edit gives the
// definition to change and send back to UpdateSchedule).
type Schedule struct {
	bulkapi.Schedule
	// Raw is the schedule document as received.
	Raw json.RawMessage `json:"-"`
}

func schedulePath(id string, action string) string { return itemPath("/v1/schedules", id, action) }

// SchedulePage is one page of schedules.
type SchedulePage struct {
	bulkapi.SchedulePage
	Raw json.RawMessage `json:"-"`
}

// SchedulesPage returns one page of the tenant's schedules, oldest first
// (cursor "" for the first).
func (c *Client) SchedulesPage(ctx context.Context, cursor string) (SchedulePage, error) {
	var out SchedulePage
	raw, err := c.Do(ctx, "GET", pagePath("/v1/schedules", cursor), nil, &out)
	out.Raw = raw
	return out, err
}

// Schedules lists every schedule of the tenant.
func (c *Client) Schedules(ctx context.Context) ([]bulkapi.Schedule, error) {
	var all []bulkapi.Schedule
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

// CreateSchedule creates a schedule with definition d.
func (c *Client) CreateSchedule(ctx context.Context, d schedule.Definition) (Schedule, error) {
	return c.schedule(ctx, "POST", "/v1/schedules", d)
}

// UpdateSchedule replaces a schedule's definition; b.Version must be the
// version it was read at (409 when someone changed it meanwhile).
func (c *Client) UpdateSchedule(ctx context.Context, id string, b bulkapi.ScheduleEdit) (Schedule, error) {
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
		body = bulkapi.CloneRequest{Title: title}
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
	bulkapi.RunPage
	Raw json.RawMessage `json:"-"`
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
func (c *Client) ScheduleRuns(ctx context.Context, id string, limit int) ([]bulkapi.Run, error) {
	p, err := c.RunsPage(ctx, id, limit, "")
	return p.Runs, err
}
