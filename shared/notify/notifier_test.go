package notify

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// The notifier's own collaborators are small domain interfaces; these
// fakes check its rules (the tenant guard, what is sent when). The AWS
// adapters are tested against the local protocol servers in notifyapp.

type contactsFunc func(tenant string) (Contact, bool, error)

func (f contactsFunc) Contact(_ context.Context, tenant string) (Contact, bool, error) {
	return f(tenant)
}

type secretsMap map[string]string

func (m secretsMap) SecretValue(_ context.Context, ref string) ([]byte, error) {
	v, ok := m[ref]
	if !ok {
		return nil, bulkerr.New(bulkerr.Transient, "secret %s unavailable", ref)
	}
	return []byte(v), nil
}

type mailbox struct{ sent []Mail }

func (m *mailbox) SendMail(_ context.Context, msg Mail) (string, error) {
	m.sent = append(m.sent, msg)
	return "msg-1", nil
}

func TestNotifierTenantGuard(t *testing.T) {
	srv := newHookServer(t)
	acme := Contact{Tenant: "acme", Email: "ops@acme.example", Webhook: srv.URL + "/acme", SecretRef: SecretName("acme")}
	secrets := secretsMap{SecretName("acme"): "acme-secret", SecretName("globex"): "globex-secret"}
	cases := []struct {
		name     string
		contacts contactsFunc
		secrets  Secrets
		kind     bulkerr.Kind // of the error; "" none
		mails    int
		hooks    int
		skipped  string
	}{
		{"own contact: mail and webhook", func(string) (Contact, bool, error) { return acme, true, nil }, secrets, "", 1, 1, ""},
		{"a store answering with another tenant's contact", func(string) (Contact, bool, error) {
			c := acme
			c.Tenant = "globex"
			return c, true, nil
		}, secrets, bulkerr.Internal, 0, 0, ""},
		{"a contact naming another tenant's secret", func(string) (Contact, bool, error) {
			c := acme
			c.SecretRef = SecretName("globex")
			return c, true, nil
		}, secrets, "", 0, 0, "not valid"},
		{"no contact", func(string) (Contact, bool, error) { return Contact{}, false, nil }, secrets, "", 0, 0, "no notification contact"},
		{"store unavailable: retried, nothing sent", func(string) (Contact, bool, error) {
			return Contact{}, false, bulkerr.New(bulkerr.Transient, "throttled")
		}, secrets, bulkerr.Transient, 0, 0, ""},
		{"secret unavailable: retried, nothing sent (not even the mail)", func(string) (Contact, bool, error) { return acme, true, nil },
			secretsMap{}, bulkerr.Transient, 0, 0, ""},
		{"no secret store: mail only, never an unsigned webhook", func(string) (Contact, bool, error) { return acme, true, nil }, nil, "", 1, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv.mu.Lock()
			before := len(srv.bodies)
			srv.mu.Unlock()
			mb := &mailbox{}
			var logs bytes.Buffer
			nf := &Notifier{Contacts: c.contacts, Secrets: c.secrets, Mail: mb, Policy: Policy{AllowLoopbackHTTP: true},
				Webhooks: Webhooks{Client: srv.client(), Backoff: Backoff{Attempts: 1}},
				Log:      slog.New(slog.NewJSONHandler(&logs, nil))}
			rep, err := nf.Notify(context.Background(), scheduleNotice())
			if bulkerr.KindOf(err) != c.kind {
				t.Fatalf("error %v, want kind %q", err, c.kind)
			}
			srv.mu.Lock()
			hooks := len(srv.bodies) - before
			srv.mu.Unlock()
			if len(mb.sent) != c.mails || hooks != c.hooks {
				t.Fatalf("sent %d mails and %d webhooks, want %d and %d (report %+v)", len(mb.sent), hooks, c.mails, c.hooks, rep)
			}
			if !strings.Contains(rep.Skipped, c.skipped) {
				t.Fatalf("skipped %q, want %q", rep.Skipped, c.skipped)
			}
			if c.mails == 1 && mb.sent[0].To != "ops@acme.example" {
				t.Fatalf("mail to %s", mb.sent[0].To)
			}
			if strings.Contains(logs.String(), "acme-secret") {
				t.Fatal("the secret is in the log")
			}
		})
	}
}

// TestNotifierGivesUpAndReports: a webhook that keeps failing is tried
// Attempts times, then logged as not delivered and reported; the mail
// still went, and Notify does not fail (a retry would mail twice).
func TestNotifierGivesUpAndReports(t *testing.T) {
	srv := newHookServer(t, 500, 500, 500, 500)
	mb := &mailbox{}
	var logs bytes.Buffer
	nf := &Notifier{
		Contacts: contactsFunc(func(string) (Contact, bool, error) {
			return Contact{Tenant: "acme", Email: "ops@acme.example", Webhook: srv.URL, SecretRef: SecretName("acme")}, true, nil
		}),
		Secrets: secretsMap{SecretName("acme"): "k"}, Mail: mb, Policy: Policy{AllowLoopbackHTTP: true},
		Webhooks: Webhooks{Client: srv.client(), Backoff: Backoff{Attempts: 3, Base: time.Millisecond, Max: time.Millisecond},
			Sleep: func(context.Context, time.Duration) error { return nil }},
		Log: slog.New(slog.NewJSONHandler(&logs, nil)),
	}
	rep, err := nf.Notify(context.Background(), scheduleNotice())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mail == nil || !rep.Mail.Delivered || rep.Webhook == nil || rep.Webhook.Delivered || len(rep.Webhook.Attempts) != 3 {
		t.Fatalf("report %+v %+v", rep.Mail, rep.Webhook)
	}
	if rep.Webhook.Attempts[2].Status != 500 || !strings.Contains(rep.Webhook.Error, "failed 3 times") {
		t.Fatalf("webhook report %+v", rep.Webhook)
	}
	if !strings.Contains(logs.String(), `"msg":"notice not delivered"`) || !strings.Contains(logs.String(), `"attempts":3`) {
		t.Fatalf("log lacks the give-up line:\n%s", logs.String())
	}
}
