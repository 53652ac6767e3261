package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// EventBus is the local stand-in for EventBridge's PutEvents API (AWS JSON
// 1.1, X-Amz-Target AWSEvents.PutEvents), which the SDK reaches through
// AWS_ENDPOINT_URL_EVENTBRIDGE. It checks entries the way EventBridge does
// (source, detail-type and a JSON object detail are required), wraps them in
// the event envelope and keeps the latest ones, which GET /_local/events
// returns (newest last) for tests and the demo. With Rules set, every
// accepted event is also delivered to the rules' targets, as EventBridge
// does (Step Functions' "Execution Status Change" events reach the cleanup
// function this way).
type EventBus struct {
	mu     sync.Mutex
	events []map[string]any
	keep   int
	now    func() time.Time
	// Rules, when set, delivers each accepted event (the Router).
	Rules deliverer
	// Log, when set, records deliveries that failed.
	Log *slog.Logger
}

// deliverer routes an event to the targets of the rules it matches.
type deliverer interface {
	Deliver(ctx context.Context, event map[string]any) ([]string, error)
}

// NewEventBus returns a bus that keeps the latest keep events.
func NewEventBus(keep int) *EventBus { return &EventBus{keep: keep, now: time.Now} }

type putEntry struct {
	Source       string   `json:"Source"`
	DetailType   string   `json:"DetailType"`
	Detail       string   `json:"Detail"`
	EventBusName string   `json:"EventBusName"`
	Resources    []string `json:"Resources"`
}

type entryResult struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// ServeHTTP answers PutEvents.
func (b *EventBus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
		awsJSONError(w, http.StatusBadRequest, "UnknownOperationException", "only AWSEvents.PutEvents is served locally")
		return
	}
	var in struct{ Entries []putEntry }
	if err := json.NewDecoder(io.LimitReader(r.Body, 256<<10)).Decode(&in); err != nil {
		awsJSONError(w, http.StatusBadRequest, "ValidationException", "request body: "+err.Error())
		return
	}
	if len(in.Entries) == 0 || len(in.Entries) > 10 {
		awsJSONError(w, http.StatusBadRequest, "ValidationException", "Entries must hold 1 to 10 entries")
		return
	}
	out := struct {
		Entries          []entryResult
		FailedEntryCount int
	}{}
	b.mu.Lock()
	var accepted []map[string]any
	for _, e := range in.Entries {
		var detail map[string]any
		switch {
		case e.Source == "" || e.DetailType == "":
			out.Entries = append(out.Entries, entryResult{ErrorCode: "InvalidArgument", ErrorMessage: "Source and DetailType are required"})
			out.FailedEntryCount++
			continue
		case json.Unmarshal([]byte(e.Detail), &detail) != nil:
			out.Entries = append(out.Entries, entryResult{ErrorCode: "MalformedDetail", ErrorMessage: "Detail is not a JSON object"})
			out.FailedEntryCount++
			continue
		}
		id := newEventID()
		bus := e.EventBusName
		if bus == "" {
			bus = "default"
		}
		ev := map[string]any{
			"version": "0", "id": id, "detail-type": e.DetailType, "source": e.Source, "account": Account,
			"time": b.now().UTC().Format(time.RFC3339), "region": "us-east-1", "resources": nonNil(e.Resources),
			"detail": detail,
		}
		accepted = append(accepted, ev)
		kept := make(map[string]any, len(ev)+1)
		for k, v := range ev {
			kept[k] = v
		}
		kept["event-bus-name"] = bus
		b.events = append(b.events, kept)
		if len(b.events) > b.keep {
			b.events = b.events[len(b.events)-b.keep:]
		}
		out.Entries = append(out.Entries, entryResult{EventID: id})
	}
	b.mu.Unlock()
	// EventBridge accepts an event whatever its targets do; a failed
	// delivery is logged (AWS retries it and then uses the rule's DLQ).
	if b.Rules != nil {
		ctx := context.WithoutCancel(r.Context())
		for _, ev := range accepted {
			if _, err := b.Rules.Deliver(ctx, ev); err != nil && b.Log != nil {
				b.Log.ErrorContext(ctx, "delivering a PutEvents entry", "detailType", ev["detail-type"], "error", err.Error())
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

// Events returns the kept events, oldest first.
func (b *EventBus) Events() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]map[string]any(nil), b.events...)
}

// ServeEvents answers GET /_local/events with the kept events as JSON.
func (b *EventBus) ServeEvents(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(b.Events())
}

func awsJSONError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
