package schedule

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvexport"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/exportzip"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// Definition is what a user defines of a scheduled export: what it
// exports, how and when, and how many failed runs in a row suspend it. The
// API takes it as the body of POST /v1/schedules (and, with a version, of
// PUT /v1/schedules/{id}), a Schedule shows it, the store keeps it as one
// JSON document; these are its field names everywhere.
type Definition struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	ObjectTypes []string `json:"objectTypes"`
	// Prefix starts the ZIP's name: <prefix><Type>_<date>.zip.
	Prefix  string             `json:"prefix,omitempty"`
	Spec    Spec               `json:"when"`
	Options exportspec.Options `json:"options,omitzero"`
	// MaxFailures is how many failed runs in a row suspend the schedule,
	// 0 to MaxFailuresCap; 0 (or absent) means 1 (FailureLimit).
	MaxFailures int `json:"maxFailures,omitempty"`
	// TargetID names the delivery target each run's file goes to (a
	// tenant's SFTP server or bucket); empty: the download link only.
	TargetID string `json:"targetId,omitempty"`
}

// Limits of a definition.
const (
	MaxTitle       = 100
	MaxDescription = 1000
	MaxFailuresCap = 10
)

// FailureLimit is how many consecutive failed runs suspend the schedule
// (MaxFailures, at least 1).
func (d Definition) FailureLimit() int { return max(d.MaxFailures, 1) }

// Validate reports the first thing wrong with d as a user sent it (see
// Canonical).
func (d Definition) Validate() error {
	_, err := d.Canonical()
	return err
}

// Canonical checks d as a user sent it and returns it as it is kept: the
// title trimmed, the object types as slugs without repeats, the spec
// without the parts its frequency does not use (Tidy), MaxFailures at
// least 1. Every error is Invalid, names the field at fault
// (bulkerr.FieldOf: a JSON pointer into the body) and says how to fix it.
func (d Definition) Canonical() (Definition, error) {
	bad := func(ptr, format string, args ...any) (Definition, error) {
		return Definition{}, bulkerr.InvalidAt(ptr, format, args...)
	}
	title := strings.TrimSpace(d.Title)
	switch {
	case title == "":
		return bad("/title", "title is required; give the schedule a name such as \"Nightly queues\"")
	case utf8.RuneCountInString(title) > MaxTitle:
		return bad("/title", "title has %d characters; shorten it to at most %d", utf8.RuneCountInString(title), MaxTitle)
	case utf8.RuneCountInString(d.Description) > MaxDescription:
		return bad("/description", "description has %d characters; shorten it to at most %d", utf8.RuneCountInString(d.Description), MaxDescription)
	}
	types, slugs, err := ResolveTypes(d.ObjectTypes)
	if err != nil {
		return Definition{}, err
	}
	if err := CheckPrefix(d.Prefix); err != nil {
		return Definition{}, err
	}
	switch d.Spec.Frequency {
	case Once, Hourly, Daily, Weekly, Monthly:
	case "":
		return bad("/when/frequency", "when.frequency is required: once, hourly, daily, weekly or monthly")
	default:
		return bad("/when/frequency", "when.frequency %q is not one of once, hourly, daily, weekly, monthly", d.Spec.Frequency)
	}
	if err := d.Spec.Validate(); err != nil {
		return Definition{}, whenError(err)
	}
	if err := CheckOptions(d.Options, types); err != nil {
		return Definition{}, err
	}
	if d.Options.Range.Mode == exportspec.RangeIncremental && d.Spec.Frequency == Once {
		return bad("/options/range/mode", "options.range.mode incremental exports what changed since the last successful run, which a once schedule never has; use all or interval, or a recurring frequency")
	}
	if d.MaxFailures < 0 || d.MaxFailures > MaxFailuresCap {
		return bad("/maxFailures", "maxFailures %d is not from 0 to %d (failed runs in a row before the schedule suspends itself)", d.MaxFailures, MaxFailuresCap)
	}
	if len(d.TargetID) > 64 || strings.ContainsAny(d.TargetID, "/#") {
		return bad("/targetId", "targetId %q is not a target ID (see GET /v1/targets)", d.TargetID)
	}
	return Definition{
		Title: title, Description: d.Description, ObjectTypes: slugs, Prefix: d.Prefix,
		Spec: d.Spec.Tidy(), Options: d.Options, MaxFailures: d.FailureLimit(), TargetID: d.TargetID,
	}, nil
}

// whenError marks an error of the spec as being about the body's "when".
func whenError(err error) error {
	return bulkerr.AtField("/when", bulkerr.Wrap(bulkerr.Invalid, err, "when: %s", bulkerr.Message(err)))
}

// Tidy drops the parts of a valid spec its frequency does not use (an at
// left over from a once schedule made daily, say), so a stored schedule
// shows only what applies.
func (s Spec) Tidy() Spec {
	if s.Frequency != Once {
		s.At = ""
	} else {
		s.Time = ""
	}
	if s.Frequency != Weekly {
		s.Weekday = 0
	}
	if s.Frequency != Monthly {
		s.Day = 0
	}
	return s
}

// ZoneName is the spec's time zone as users read it ("UTC" when empty).
func (s Spec) ZoneName() string {
	if s.TimeZone == "" {
		return "UTC"
	}
	return s.TimeZone
}

// FirstRun is the first run of a newly defined (or edited) schedule after
// now: a once schedule without a time runs now (the dispatcher's next
// tick), one whose time has passed is refused, naming when.at.
func (s Spec) FirstRun(now time.Time) (time.Time, error) {
	next, ok, err := s.Next(now)
	if err != nil {
		return time.Time{}, whenError(err)
	}
	if !ok {
		return time.Time{}, bulkerr.InvalidAt("/when/at", "when.at %s (%s) has passed; give a future date and time, or leave at out to run once now", s.At, s.ZoneName())
	}
	return next.UTC(), nil
}

// ResolveTypes looks every named object type up (slug, alias or name) and
// drops repeats, keeping the first order; it refuses an empty list. A
// schedule's definition and an on-demand export name their types alike,
// so the API checks both with it (errors point at /objectTypes).
func ResolveTypes(names []string) ([]*objecttype.Type, []string, error) {
	var types []*objecttype.Type
	var slugs []string
	seen := map[string]bool{}
	for i, s := range names {
		t, err := objecttype.Lookup(s)
		if err != nil {
			return nil, nil, bulkerr.AtField("/objectTypes/"+strconv.Itoa(i), bulkerr.Wrap(bulkerr.Invalid, err, "objectTypes[%d]: %s", i, bulkerr.Message(err)))
		}
		if !seen[t.Slug] {
			seen[t.Slug] = true
			types, slugs = append(types, t), append(slugs, t.Slug)
		}
	}
	if len(types) == 0 {
		return nil, nil, bulkerr.InvalidAt("/objectTypes", "objectTypes is empty; name one or more types, such as [\"queue\"]")
	}
	return types, slugs, nil
}

// CheckPrefix checks a ZIP name prefix (errors point at /prefix).
func CheckPrefix(prefix string) error {
	if err := exportzip.ValidatePrefix(prefix); err != nil {
		return bulkerr.AtField("/prefix", bulkerr.Wrap(bulkerr.Invalid, err, "prefix: %s", bulkerr.Message(err)))
	}
	return nil
}

// CheckOptions validates o and resolves its fields and filters against
// the types exactly as the export will (csvexport.NewPlans: in an export of
// several types a field that only some of them have is written for those),
// so a field no type has, or format csv for several types, is refused at
// once and does not fail the export later (errors point at /options, or
// /options/format).
func CheckOptions(o exportspec.Options, types []*objecttype.Type) error {
	if err := o.Validate(); err != nil {
		return bulkerr.AtField("/options", bulkerr.Wrap(bulkerr.Invalid, err, "options: %s", bulkerr.Message(err)))
	}
	slugs := make([]string, 0, len(types))
	for _, t := range types {
		slugs = append(slugs, t.Slug)
	}
	if err := o.ValidateTypes(slugs); err != nil {
		return bulkerr.AtField("/options/format", bulkerr.Wrap(bulkerr.Invalid, err, "options: %s", bulkerr.Message(err)))
	}
	if _, err := csvexport.NewPlans(types, o); err != nil {
		return bulkerr.AtField("/options", bulkerr.Wrap(bulkerr.Invalid, err, "options: %s", bulkerr.Message(err)))
	}
	return nil
}
