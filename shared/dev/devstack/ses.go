package devstack

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"time"
)

// SES plays Amazon SES API v2's SendEmail (REST JSON, POST
// /v2/email/outbound-emails, AWS_ENDPOINT_URL_SESV2) on the dev server's
// AWS port: it checks the request as SES does (SigV4 for service "ses",
// exactly one of Simple, Raw and Template content, a sender, 1 to 50
// recipients with valid addresses, a subject and a body for Simple content,
// the 40 MB message limit, a verified sender identity when Verified is
// set), answers with a MessageId or an AWS error (the X-Amzn-ErrorType
// header and a {"message"} body), and records every message it accepted.
// Tests read them at GET /_local/ses/messages (optionally ?to=<address>),
// as LocalStack's retrospection endpoint offers; DELETE clears them.
// POST /_local/ses/fail?count=N&status=S makes the next N sends fail
// with S (500 InternalServiceErrorException by default, 429
// TooManyRequestsException), to exercise retries.
type SES struct {
	// Verified, when set, says which identities (an address or its domain)
	// may send; unset, every sender is verified (SES outside the sandbox
	// with the identity set up).
	Verified func(identity string) bool

	mu       sync.Mutex
	keep     int
	messages []SentEmail
	seq      int
	failN    int
	failCode int
	now      func() time.Time
}

// SentEmail is one message SES accepted.
type SentEmail struct {
	MessageID        string    `json:"messageId"`
	From             string    `json:"from"`
	To               []string  `json:"to"`
	Cc               []string  `json:"cc,omitempty"`
	Bcc              []string  `json:"bcc,omitempty"`
	ReplyTo          []string  `json:"replyTo,omitempty"`
	Subject          string    `json:"subject,omitempty"`
	Text             string    `json:"text,omitempty"`
	HTML             string    `json:"html,omitempty"`
	Raw              string    `json:"raw,omitempty"`
	Template         string    `json:"template,omitempty"`
	ConfigurationSet string    `json:"configurationSet,omitempty"`
	Tags             []SESTag  `json:"tags,omitempty"`
	Region           string    `json:"region"`
	Timestamp        time.Time `json:"timestamp"`
}

// SESTag is a message tag (EmailTags).
type SESTag struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// NewSES returns an SES server that keeps the last keep messages.
func NewSES(keep int) *SES { return &SES{keep: keep, now: time.Now} }

// Register serves SES's API and the local retrospection routes on mux.
func (s *SES) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v2/email/outbound-emails", s.sendEmail)
	mux.HandleFunc("GET /_local/ses/messages", s.serveMessages)
	mux.HandleFunc("DELETE /_local/ses/messages", s.clearMessages)
	mux.HandleFunc("POST /_local/ses/fail", s.serveFail)
}

// maxSESMessage is SES v2's message size limit (40 MB, after encoding).
const maxSESMessage = 40 << 20

// maxSESRecipients is SES's limit of To, Cc and Bcc addresses together.
const maxSESRecipients = 50

type sesContent struct {
	Data    string `json:"Data"`
	Charset string `json:"Charset"`
}

type sendEmailRequest struct {
	FromEmailAddress string `json:"FromEmailAddress"`
	Destination      *struct {
		ToAddresses  []string `json:"ToAddresses"`
		CcAddresses  []string `json:"CcAddresses"`
		BccAddresses []string `json:"BccAddresses"`
	} `json:"Destination"`
	ReplyToAddresses []string `json:"ReplyToAddresses"`
	Content          *struct {
		Simple *struct {
			Subject *sesContent `json:"Subject"`
			Body    *struct {
				Text *sesContent `json:"Text"`
				Html *sesContent `json:"Html"`
			} `json:"Body"`
		} `json:"Simple"`
		Raw *struct {
			Data []byte `json:"Data"` // base64 in JSON, as the SDK sends it
		} `json:"Raw"`
		Template *struct {
			TemplateName string `json:"TemplateName"`
			TemplateArn  string `json:"TemplateArn"`
			TemplateData string `json:"TemplateData"`
		} `json:"Template"`
	} `json:"Content"`
	ConfigurationSetName string   `json:"ConfigurationSetName"`
	EmailTags            []SESTag `json:"EmailTags"`
}

func (s *SES) sendEmail(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.Header.Get("Authorization"), "/ses/aws4_request") {
		sesError(w, http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token: requests must be signed with SigV4 for service ses")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSESMessage+1))
	if err != nil {
		sesError(w, http.StatusBadRequest, "BadRequestException", "could not read the request: "+err.Error())
		return
	}
	if len(body) > maxSESMessage {
		sesError(w, http.StatusBadRequest, "MessageRejected", "Message length exceeds 40 MB limit")
		return
	}
	var req sendEmailRequest
	if err := json.Unmarshal(body, &req); err != nil {
		sesError(w, http.StatusBadRequest, "BadRequestException", "the request body is not valid JSON: "+err.Error())
		return
	}
	msg, status, code, text := s.check(req)
	if code != "" {
		sesError(w, status, code, text)
		return
	}
	s.mu.Lock()
	if s.failN > 0 {
		s.failN--
		st := s.failCode
		s.mu.Unlock()
		if st == http.StatusTooManyRequests {
			sesError(w, st, "TooManyRequestsException", "Maximum sending rate exceeded.")
		} else {
			sesError(w, st, "InternalServiceErrorException", "local SES was told to fail this request")
		}
		return
	}
	s.seq++
	msg.MessageID = fmt.Sprintf("0100019%09d-local-ses-%06d", s.now().Unix()%1_000_000_000, s.seq)
	msg.Timestamp = s.now().UTC()
	msg.Region = regionOf(r.Header.Get("Authorization"))
	s.messages = append(s.messages, msg)
	if s.keep > 0 && len(s.messages) > s.keep {
		s.messages = s.messages[len(s.messages)-s.keep:]
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"MessageId": msg.MessageID})
}

// check validates a SendEmail request as SES does; code is empty when it
// is accepted.
func (s *SES) check(req sendEmailRequest) (msg SentEmail, status int, code, text string) {
	bad := func(code, format string, args ...any) (SentEmail, int, string, string) {
		return SentEmail{}, http.StatusBadRequest, code, fmt.Sprintf(format, args...)
	}
	if req.Content == nil {
		return bad("BadRequestException", "Missing required field Content")
	}
	kinds := 0
	for _, set := range []bool{req.Content.Simple != nil, req.Content.Raw != nil, req.Content.Template != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return bad("BadRequestException", "Content must have exactly one of Simple, Raw or Template")
	}
	msg = SentEmail{From: req.FromEmailAddress, ReplyTo: req.ReplyToAddresses, ConfigurationSet: req.ConfigurationSetName, Tags: req.EmailTags}
	if req.Destination != nil {
		msg.To, msg.Cc, msg.Bcc = req.Destination.ToAddresses, req.Destination.CcAddresses, req.Destination.BccAddresses
	}
	switch {
	case req.Content.Simple != nil:
		sm := req.Content.Simple
		if sm.Subject == nil || sm.Body == nil || (sm.Body.Text == nil && sm.Body.Html == nil) {
			return bad("BadRequestException", "Simple content needs a Subject and a Body with Text or Html")
		}
		msg.Subject = sm.Subject.Data
		if sm.Body.Text != nil {
			msg.Text = sm.Body.Text.Data
		}
		if sm.Body.Html != nil {
			msg.HTML = sm.Body.Html.Data
		}
		if strings.ContainsAny(msg.Subject, "\r\n") {
			return bad("BadRequestException", "the Subject must not contain line breaks")
		}
	case req.Content.Raw != nil:
		if len(req.Content.Raw.Data) == 0 {
			return bad("BadRequestException", "Raw content has no Data")
		}
		msg.Raw = base64.StdEncoding.EncodeToString(req.Content.Raw.Data)
	case req.Content.Template != nil:
		if req.Content.Template.TemplateName == "" && req.Content.Template.TemplateArn == "" {
			return bad("BadRequestException", "Template content needs a TemplateName or TemplateArn")
		}
		return SentEmail{}, http.StatusNotFound, "NotFoundException", fmt.Sprintf("Template %s does not exist.", req.Content.Template.TemplateName)
	}
	if msg.From == "" && msg.Raw == "" {
		return bad("BadRequestException", "Missing required field FromEmailAddress")
	}
	if msg.From != "" {
		if _, err := mail.ParseAddress(msg.From); err != nil {
			return bad("BadRequestException", "Illegal address: %s", msg.From)
		}
	}
	n := len(msg.To) + len(msg.Cc) + len(msg.Bcc)
	if n == 0 && msg.Raw == "" {
		return bad("BadRequestException", "Missing required field Destination: at least one recipient")
	}
	if n > maxSESRecipients {
		return bad("MessageRejected", "Recipient count exceeds %d.", maxSESRecipients)
	}
	for _, list := range [][]string{msg.To, msg.Cc, msg.Bcc, msg.ReplyTo} {
		for _, a := range list {
			if p, err := mail.ParseAddress(a); err != nil || p.Address == "" {
				return bad("BadRequestException", "Illegal address: %s", a)
			}
		}
	}
	if s.Verified != nil && msg.From != "" {
		addr := msg.From
		if p, err := mail.ParseAddress(addr); err == nil {
			addr = p.Address
		}
		_, domain, _ := strings.Cut(addr, "@")
		if !s.Verified(addr) && !s.Verified(domain) {
			return bad("MessageRejected", "Email address is not verified. The following identities failed the check in region %s: %s", strings.ToUpper(Region), addr)
		}
	}
	return msg, 0, "", ""
}

// regionOf reads the region of a SigV4 Authorization header's credential
// scope (Credential=<key>/<date>/<region>/ses/aws4_request).
func regionOf(auth string) string {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return Region
	}
	parts := strings.Split(strings.SplitN(rest, ",", 2)[0], "/")
	if len(parts) >= 5 {
		return parts[2]
	}
	return Region
}

// Messages returns the recorded messages, oldest first.
func (s *SES) Messages() []SentEmail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentEmail(nil), s.messages...)
}

func (s *SES) serveMessages(w http.ResponseWriter, r *http.Request) {
	to := strings.ToLower(r.URL.Query().Get("to"))
	out := []SentEmail{}
	for _, m := range s.Messages() {
		if to == "" || containsFold(m.To, to) || containsFold(m.Cc, to) || containsFold(m.Bcc, to) {
			out = append(out, m)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"messages": out})
}

func (s *SES) clearMessages(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.messages = nil
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *SES) serveFail(w http.ResponseWriter, r *http.Request) {
	n, status, err := failParams(r, http.StatusInternalServerError)
	if err != nil || (status != http.StatusInternalServerError && status != http.StatusTooManyRequests) {
		http.Error(w, "want ?count=N&status=500|429", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.failN, s.failCode = n, status
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func containsFold(list []string, addr string) bool {
	for _, a := range list {
		if p, err := mail.ParseAddress(a); err == nil && strings.EqualFold(p.Address, addr) {
			return true
		}
	}
	return false
}

// sesError writes an AWS REST JSON error as SES sends it.
func sesError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}
