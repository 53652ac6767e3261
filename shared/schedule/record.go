package schedule

import (
	"fmt"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/exportspec"
)

// Schedule is a tenant's scheduled export: its Definition and the state
// the dispatcher, its runs and its users change. The API shows it as it is
// (with the spec in words); the store (dynamostore) keeps the definition
// as one document and every piece of state as an attribute of its own.
//
// Version counts the changes a user makes or must see before editing:
// creating (1), editing, suspending and resuming (by hand or after
// failures). Claiming and finishing a run do not change it.
type Schedule struct {
	Tenant string `json:"-"`
	ID     string `json:"id"`
	Definition
	Active bool `json:"active"`
	// NextRun is the next planned run; zero when there is none.
	NextRun time.Time  `json:"nextRun,omitzero"`
	LastRun *time.Time `json:"lastRun,omitempty"`
	LastJob string     `json:"lastJob,omitempty"`
	// RunningJob is the job of the run in progress; while it is set the
	// schedule is neither run again, edited nor deleted.
	RunningJob string `json:"runningJob,omitempty"`
	// HighWater is the To of the last successful run's window (the start
	// of the next incremental window).
	HighWater time.Time `json:"highWater,omitzero"`
	// Failures counts consecutive failed runs.
	Failures        int    `json:"consecutiveFailures"`
	SuspendedReason string `json:"suspendedReason,omitempty"`
	// Submitted marks a once schedule whose run was claimed; it can no
	// longer be edited.
	Submitted bool      `json:"submitted,omitempty"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	Version   int64     `json:"version"`
}

// Suspend reasons the service gives itself.
const (
	// ReasonPassed suspends a new schedule (a clone) whose once time has
	// passed.
	ReasonPassed = "its once time has passed; edit when.at, then resume it"
	// ReasonSuspended is the reason of a suspension that gave none.
	ReasonSuspended = "suspended"
)

// SuspendedBy is the reason of a suspension by user.
func SuspendedBy(user string) string { return "suspended by " + user }

// MaxPerTenant is how many schedules one tenant may have; it also keeps
// one tenant's due runs from crowding out others' in the dispatcher.
const MaxPerTenant = 100

// CanAdd says (Conflict) why a tenant that has have schedules cannot add
// one more. Nil when it can.
func CanAdd(have int) error {
	if have >= MaxPerTenant {
		return bulkerr.New(bulkerr.Conflict, "a tenant may have at most %d schedules and this one has %d; delete one you no longer need (or give one schedule several object types)", MaxPerTenant, have)
	}
	return nil
}

// New is a new schedule of tenant with definition d, made by user at now,
// whose first run is next: active, or, when there is no next run (a once
// schedule whose time has passed), suspended with ReasonPassed.
func New(tenant, id, user string, d Definition, next, now time.Time) Schedule {
	s := Schedule{Tenant: tenant, ID: id, Definition: d, CreatedBy: user, CreatedAt: now.UTC(), Active: true, NextRun: next}
	if next.IsZero() {
		s.Active, s.SuspendedReason = false, ReasonPassed
	}
	return s
}

// Check reports what keeps s from being stored: it needs a tenant and an
// ID, at least one object type, a valid spec and valid options (the store
// checks this much; Definition.Canonical checks what a user sends).
func (s Schedule) Check() error {
	if s.Tenant == "" || s.ID == "" {
		return bulkerr.New(bulkerr.Invalid, "a schedule needs a tenant and an ID")
	}
	if len(s.ObjectTypes) == 0 {
		return bulkerr.New(bulkerr.Invalid, "schedule %s names no object type; give at least one", s.ID)
	}
	if err := s.Spec.Validate(); err != nil {
		return err
	}
	return s.Options.Validate()
}

// spent tells whether s is a once schedule whose run was submitted.
func (s Schedule) spent() bool { return s.Submitted && s.Spec.Frequency == Once }

// CanChange says (Conflict) why the definition of s can never change
// again: it is a once schedule whose run was submitted, to be cloned
// instead. Nil when it can.
func (s Schedule) CanChange() error {
	if s.spent() {
		return bulkerr.New(bulkerr.Conflict, "schedule %s runs once and its run was already submitted (job %s); clone it to run it again with changes", s.ID, s.LastJob)
	}
	return nil
}

// CanEdit says (Conflict) why s cannot take an edit made from version v:
// not while a run is in progress, never for a once schedule whose run was
// submitted (CanChange), and only from the stored version. Nil when it can.
func (s Schedule) CanEdit(v int64) error {
	switch {
	case s.RunningJob != "":
		return bulkerr.New(bulkerr.Conflict, "schedule %s is running (job %s); edit it after the run ends", s.ID, s.RunningJob)
	case s.spent():
		return s.CanChange()
	case s.Version != v:
		return bulkerr.New(bulkerr.Conflict, "schedule %s was changed by someone else (version %d, yours %d); reload it and retry", s.ID, s.Version, v)
	}
	return nil
}

// CanDelete says (Conflict) why s cannot be deleted now: a run is in
// progress. Nil when it can.
func (s Schedule) CanDelete() error {
	if s.RunningJob != "" {
		return bulkerr.New(bulkerr.Conflict, "schedule %s is running (job %s); delete it after the run ends, or suspend it now so it does not run again", s.ID, s.RunningJob)
	}
	return nil
}

// Edit is s with definition d (canonical) made from version v at now: an
// active schedule's next run is planned anew (FirstRun), a suspended one
// gets its next run when it is resumed.
func (s Schedule) Edit(d Definition, v int64, now time.Time) (Schedule, error) {
	next, err := d.Spec.FirstRun(now)
	if err != nil {
		return Schedule{}, err
	}
	if !s.Active {
		next = time.Time{}
	}
	return Schedule{Tenant: s.Tenant, ID: s.ID, Definition: d, NextRun: next, Version: v}, nil
}

// KeepsHighWater tells whether the high-water mark of s still holds with
// definition d: an edited range starts over (its next incremental run
// takes everything once), as the mark belongs to the old range.
func (s Schedule) KeepsHighWater(d Definition) bool {
	return s.Options.Range.Equal(d.Options.Range)
}

// CanResume says (Conflict) why s cannot be resumed: a once schedule that
// already ran. Nil when it can.
func (s Schedule) CanResume() error {
	if s.spent() {
		return bulkerr.New(bulkerr.Conflict, "schedule %s runs once and already ran (job %s); clone it to run it again", s.ID, s.LastJob)
	}
	return nil
}

// ResumeRun is the next run of s resumed at now: runs missed while it was
// suspended are not made up; a once schedule whose time has passed cannot
// be resumed (Conflict).
func (s Schedule) ResumeRun(now time.Time) (time.Time, error) {
	next, ok, err := s.Spec.Next(now)
	if err != nil {
		return time.Time{}, err
	}
	if !ok {
		return time.Time{}, bulkerr.New(bulkerr.Conflict, "schedule %s runs once at %s (%s), which has passed; edit when.at to a future time (or clone it), then resume it", s.ID, s.Spec.At, s.Spec.ZoneName())
	}
	return next.UTC(), nil
}

// SuspendsAfter tells whether failures consecutive failed runs suspend s:
// they reach its FailureLimit while it is active (a schedule suspended
// meanwhile keeps its user's reason).
func (s Schedule) SuspendsAfter(failures int) bool {
	return failures >= s.FailureLimit() && s.Active
}

// SuspendReason is why a schedule suspended itself after failures
// consecutive failed runs, the last one for reason.
func SuspendReason(failures int, reason string) string {
	what := "its run failed"
	if failures > 1 {
		what = fmt.Sprintf("%d consecutive runs failed", failures)
	}
	if reason == "" {
		reason = "no reason given"
	}
	return fmt.Sprintf("suspended after %s; the last one: %s. Fix the cause, then resume the schedule", what, reason)
}

// Run is one run of a schedule in its history (kept RunRetention). It
// holds only the run's identity: status, times, rows, files, link and error
// are its export job's. Tenant and ScheduleID say whose run it is.
type Run struct {
	Tenant     string `json:"-"`
	ScheduleID string `json:"-"`
	JobID      string `json:"jobId"`
	// Planned is the run's planned time; zero for test and manual runs.
	Planned time.Time `json:"planned,omitzero"`
	// Window is the objects the run took by their last write.
	Window exportspec.Window `json:"window,omitzero"`
	// Test marks a test export (the first rows of each type).
	Test bool `json:"test,omitempty"`
	// At is when the run was started.
	At time.Time `json:"at"`
}

// RunRetention is how long a schedule's run history is kept.
const RunRetention = 90 * 24 * time.Hour

// Check reports what keeps r from being recorded.
func (r Run) Check() error {
	if r.Tenant == "" || r.ScheduleID == "" || r.JobID == "" {
		return bulkerr.New(bulkerr.Invalid, "a schedule run needs a tenant, a schedule and a job")
	}
	return nil
}
