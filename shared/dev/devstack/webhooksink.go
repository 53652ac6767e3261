package devstack

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// WebhookSink is the local receiver of tenants' notification webhooks
// (the notifier's signed POSTs), on the dev server's AWS port:
//
//   - POST /_local/webhooks/{name} records a delivery (body and headers as
//     received) and answers 204, or the status it was told to fail with;
//   - GET /_local/webhooks/{name} lists the deliveries, oldest first;
//   - POST /_local/webhooks/{name}/fail?count=N&status=S makes the next N
//     deliveries answer S (default 500), to exercise the notifier's
//     retries; DELETE /_local/webhooks/{name} forgets the sink.
//
// A tenant's contact points at http://127.0.0.1:<port>/_local/webhooks/<name>
// (accepted only with BULKOPS_NOTIFY_ALLOW_LOOPBACK=true, which
// infra/local/env.sh sets). Deliveries are recorded, never verified: the
// tests verify the signatures themselves with notify.Verify.
type WebhookSink struct {
	mu    sync.Mutex
	keep  int
	hooks map[string]*sinkHook
	now   func() time.Time
}

type sinkHook struct {
	deliveries []WebhookDelivery
	failN      int
	failStatus int
}

// WebhookDelivery is one request the sink received.
type WebhookDelivery struct {
	Received time.Time         `json:"received"`
	Headers  map[string]string `json:"headers"`
	Body     string            `json:"body"`
	// Status is what the sink answered.
	Status int `json:"status"`
}

// NewWebhookSink returns a sink keeping the last keep deliveries per name.
func NewWebhookSink(keep int) *WebhookSink {
	return &WebhookSink{keep: keep, hooks: map[string]*sinkHook{}, now: time.Now}
}

// Register serves the sink's routes on mux.
func (s *WebhookSink) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /_local/webhooks/{name}", s.receive)
	mux.HandleFunc("GET /_local/webhooks/{name}", s.list)
	mux.HandleFunc("DELETE /_local/webhooks/{name}", s.forget)
	mux.HandleFunc("POST /_local/webhooks/{name}/fail", s.fail)
}

// maxWebhookBody bounds what the sink reads of one delivery.
const maxWebhookBody = 1 << 20

func (s *WebhookSink) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxWebhookBody+1))
	if err != nil || len(body) > maxWebhookBody {
		http.Error(w, "body unreadable or over 1 MB", http.StatusRequestEntityTooLarge)
		return
	}
	d := WebhookDelivery{Received: s.now().UTC(), Body: string(body), Headers: map[string]string{}, Status: http.StatusNoContent}
	for k := range r.Header {
		d.Headers[k] = r.Header.Get(k)
	}
	s.mu.Lock()
	h := s.hook(r.PathValue("name"))
	if h.failN > 0 {
		h.failN--
		d.Status = h.failStatus
	}
	h.deliveries = append(h.deliveries, d)
	if s.keep > 0 && len(h.deliveries) > s.keep {
		h.deliveries = h.deliveries[len(h.deliveries)-s.keep:]
	}
	s.mu.Unlock()
	if d.Status != http.StatusNoContent {
		http.Error(w, "the local webhook sink was told to fail", d.Status)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *WebhookSink) hook(name string) *sinkHook {
	h, ok := s.hooks[name]
	if !ok {
		h = &sinkHook{}
		s.hooks[name] = h
	}
	return h
}

// Deliveries returns what the sink name received, oldest first.
func (s *WebhookSink) Deliveries(name string) []WebhookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.hooks[name]; ok {
		return append([]WebhookDelivery(nil), h.deliveries...)
	}
	return nil
}

func (s *WebhookSink) list(w http.ResponseWriter, r *http.Request) {
	out := s.Deliveries(r.PathValue("name"))
	if out == nil {
		out = []WebhookDelivery{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"deliveries": out})
}

func (s *WebhookSink) forget(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	delete(s.hooks, r.PathValue("name"))
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *WebhookSink) fail(w http.ResponseWriter, r *http.Request) {
	n, status, err := failParams(r, http.StatusInternalServerError)
	if err != nil || status < 400 || status > 599 {
		http.Error(w, "want ?count=N&status=<4xx or 5xx>", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	h := s.hook(r.PathValue("name"))
	h.failN, h.failStatus = n, status
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// failParams reads ?count=N&status=S of the local failure switches.
func failParams(r *http.Request, defStatus int) (int, int, error) {
	q := r.URL.Query()
	n, err := strconv.Atoi(q.Get("count"))
	if err != nil || n < 0 || n > 1000 {
		return 0, 0, errors.New("count must be 0 to 1000")
	}
	status := defStatus
	if v := q.Get("status"); v != "" {
		if status, err = strconv.Atoi(v); err != nil {
			return 0, 0, errors.New("status must be a number")
		}
	}
	return n, status, nil
}
