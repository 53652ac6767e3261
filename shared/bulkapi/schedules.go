package bulkapi

import (
	"time"

	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// The body of POST /v1/schedules is a schedule.Definition.

// ScheduleEdit is the body of PUT /v1/schedules/{id}: the whole definition
// and the version it was read at.
type ScheduleEdit struct {
	schedule.Definition
	// Version is the version the edit was made from (or send If-Match
	// with the ETag).
	Version *int64 `json:"version,omitempty"`
}

// CloneRequest is the optional body of POST /v1/schedules/{id}/clone.
type CloneRequest struct {
	// Title is the copy's title; empty makes "Copy of <title>".
	Title string `json:"title,omitempty"`
}

// Schedule is a schedule as the API shows it.
type Schedule struct {
	schedule.Schedule
	// WhenText is the schedule in words ("daily at 06:00 Europe/Berlin").
	WhenText string `json:"whenText"`
}

// NewSchedule is s as the API shows it.
func NewSchedule(s schedule.Schedule) Schedule {
	return Schedule{Schedule: s, WhenText: s.Spec.Describe()}
}

// Edit is the edit of s that changes nothing: its definition at its
// version, to change and send back.
func (s Schedule) Edit() ScheduleEdit {
	v := s.Version
	return ScheduleEdit{Definition: s.Definition, Version: &v}
}

// SchedulePage is one page of GET /v1/schedules, oldest first.
type SchedulePage struct {
	Schedules  []Schedule `json:"schedules"`
	NextCursor string     `json:"nextCursor,omitempty"`
}

// Run is one run of a schedule joined with its export job.
type Run struct {
	schedule.Run
	// Status is the job's; StatusUnknown when its record is gone.
	Status    jobs.Status `json:"status"`
	StartedAt *time.Time  `json:"startedAt,omitempty"`
	EndedAt   *time.Time  `json:"endedAt,omitempty"`
	// Rows is how many objects the run wrote (so far), Files how many
	// CSV files its ZIP has.
	Rows       int    `json:"rows"`
	Files      int    `json:"files,omitempty"`
	FileName   string `json:"fileName,omitempty"`
	Error      string `json:"error,omitempty"`
	Percent    int    `json:"percent"`
	ETASeconds *int64 `json:"etaSeconds,omitempty"`
	// Links has the ZIP's short-lived download link (results) once the
	// run is Completed.
	Links *Links `json:"links,omitempty"`
	// Delivery is where the run's file was delivered (destination and
	// remote file name), or the phase its delivery failed in.
	Delivery *jobs.Delivery `json:"delivery,omitempty"`
}

// StatusUnknown is the status of a run whose job record is gone.
const StatusUnknown jobs.Status = "Unknown"

// RunPage is one page of GET /v1/schedules/{id}/runs, newest first.
type RunPage struct {
	Runs       []Run  `json:"runs"`
	NextCursor string `json:"nextCursor,omitempty"`
}
