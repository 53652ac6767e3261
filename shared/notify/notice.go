package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Kind is what a notice is about.
type Kind string

// The notice kinds.
const (
	// ScheduleRunFailed: a run of a scheduled export failed.
	ScheduleRunFailed Kind = "schedule-run-failed"
	// ImportFailed: an import job ended Failed.
	ImportFailed Kind = "import-failed"
)

// PayloadVersion is the webhook payload's "version"; a receiver can rely on
// the fields of a version staying as documented (docs/notifications.md).
const PayloadVersion = "1"

// maxReason bounds the reason as it is rendered: a reason is one sentence
// or a few, never a log; anything longer is cut with an ellipsis.
const maxReason = 2000

// Notice is one failure told to a tenant's contact.
type Notice struct {
	// ID identifies the failure (the event's ID): the same failure
	// delivered twice has the same ID, so receivers can drop repeats.
	ID string
	// Tenant owns the failed schedule or job.
	Tenant string
	Kind   Kind
	// ScheduleID and ScheduleTitle name the schedule (schedule runs only).
	ScheduleID    string
	ScheduleTitle string
	// JobID is the failed job (the run's job for a schedule).
	JobID string
	// FileName is the import's file (imports only).
	FileName string
	// ObjectTypes are the object types the job reads or writes.
	ObjectTypes []string
	// Phase is where the job failed (jobs.FailurePhase: header, rows
	// (chunk 2 of 5), reading, delivery (authenticate), ...); empty when
	// the event does not say.
	Phase string
	// Reason says what failed, for the tenant.
	Reason string
	// ConsecutiveFailures counts the schedule's failed runs in a row.
	ConsecutiveFailures int
	// Suspended: the schedule suspended itself after this failure.
	Suspended bool
	// Link opens the job in the console.
	Link string
	// At is when the failure was reported.
	At time.Time
}

// Subject is the mail's subject line.
func (n Notice) Subject() string {
	var s string
	switch n.Kind {
	case ScheduleRunFailed:
		title := n.ScheduleTitle
		if title == "" {
			title = n.ScheduleID
		}
		s = fmt.Sprintf("[bulkops] Scheduled export %q failed", title)
		switch {
		case n.Suspended:
			s += fmt.Sprintf(" (%d in a row; schedule suspended)", n.ConsecutiveFailures)
		case n.ConsecutiveFailures > 1:
			s += fmt.Sprintf(" (%d in a row)", n.ConsecutiveFailures)
		}
	case ImportFailed:
		what := n.FileName
		if what == "" {
			what = "job " + n.JobID
		}
		s = "[bulkops] Import of " + what + " failed"
	default:
		s = "[bulkops] Job " + n.JobID + " failed"
	}
	return oneLine(s, 200)
}

// Text is the mail's plain-text body: every fact of the notice on its own
// line, then what to do.
func (n Notice) Text() string {
	var b strings.Builder
	line := func(label, value string) { fmt.Fprintf(&b, "%-22s %s\n", label+":", value) }
	switch n.Kind {
	case ScheduleRunFailed:
		b.WriteString("A run of a scheduled export failed.\n\n")
		line("Schedule", fmt.Sprintf("%s (%s)", oneLine(n.ScheduleTitle, 200), n.ScheduleID))
	case ImportFailed:
		b.WriteString("An import failed.\n\n")
		if n.FileName != "" {
			line("File", oneLine(n.FileName, 300))
		}
	default:
		b.WriteString("A job failed.\n\n")
	}
	line("Tenant", n.Tenant)
	line("Job", n.JobID)
	line("Object types", orNotReported(strings.Join(n.ObjectTypes, ", ")))
	line("Phase", orNotReported(n.Phase))
	line("Reason", orNotReported(oneLine(n.Reason, maxReason)))
	if n.Kind == ScheduleRunFailed {
		line("Consecutive failures", fmt.Sprint(n.ConsecutiveFailures))
		if n.Suspended {
			line("Schedule suspended", "yes: it runs again once you resume it")
		} else {
			line("Schedule suspended", "no: it runs again at its next time")
		}
	}
	if !n.At.IsZero() {
		line("Time", n.At.UTC().Format(time.RFC3339))
	}
	if n.Link != "" {
		line("Link", n.Link)
	}
	b.WriteString("\nYou receive this because this address is the notification contact of tenant ")
	b.WriteString(n.Tenant)
	b.WriteString(".\n")
	return b.String()
}

// payload is the webhook's JSON document (docs/notifications.md).
type payload struct {
	Version             string    `json:"version"`
	ID                  string    `json:"id"`
	Type                Kind      `json:"type"`
	Tenant              string    `json:"tenant"`
	Time                string    `json:"time,omitempty"`
	Schedule            *schedule `json:"schedule,omitempty"`
	Job                 job       `json:"job"`
	ObjectTypes         []string  `json:"objectTypes"`
	Phase               string    `json:"phase,omitempty"`
	Reason              string    `json:"reason"`
	ConsecutiveFailures *int      `json:"consecutiveFailures,omitempty"`
	Suspended           *bool     `json:"suspended,omitempty"`
	Link                string    `json:"link,omitempty"`
}

type schedule struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type job struct {
	ID       string `json:"id"`
	FileName string `json:"fileName,omitempty"`
}

// Payload is the webhook's body: a JSON document with a version, the
// notice's ID and kind, and its facts (docs/notifications.md).
func (n Notice) Payload() ([]byte, error) {
	p := payload{
		Version: PayloadVersion, ID: n.ID, Type: n.Kind, Tenant: n.Tenant,
		Job: job{ID: n.JobID, FileName: n.FileName}, ObjectTypes: n.ObjectTypes,
		Phase: n.Phase, Reason: oneLine(n.Reason, maxReason), Link: n.Link,
	}
	if p.ObjectTypes == nil {
		p.ObjectTypes = []string{}
	}
	if !n.At.IsZero() {
		p.Time = n.At.UTC().Format(time.RFC3339)
	}
	if n.Kind == ScheduleRunFailed {
		p.Schedule = &schedule{ID: n.ScheduleID, Title: n.ScheduleTitle}
		failures, suspended := n.ConsecutiveFailures, n.Suspended
		p.ConsecutiveFailures, p.Suspended = &failures, &suspended
	}
	return json.Marshal(p)
}

func orNotReported(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(not reported)"
	}
	return s
}

// oneLine folds s onto one line (control characters, line breaks included,
// become spaces, so no value can add a header or a line to the mail) and
// cuts it to max runes.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}
