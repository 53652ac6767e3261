package sesmail_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/notify"
	"github.com/ccbulk/bulkops/shared/sesmail"
)

func TestFromAddress(t *testing.T) {
	for in, want := range map[string]string{"ops@acme.example": "ops@acme.example", "acme.example": "bulkops-notifications@acme.example"} {
		if got := sesmail.FromAddress(in); got != want {
			t.Errorf("FromAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSendMail sends through the local stack's SES v2 (the dev server,
// AWS_ENDPOINT_URL_SESV2) with the SDK's default client, and through a
// sandboxed local SES that has not verified the sender: that refusal is
// Invalid (a retry does not change it), a server that keeps failing is
// Transient.
func TestSendMail(t *testing.T) {
	st := localtest.Require(t)
	// The stack's SES v2 is the dev server's play (its message list at
	// /_local/ses/messages).
	localtest.SkipOnLocalStack(t, "LocalStack's community edition has no SES v2 (sesv2 SendEmail answers \"not included in your current license plan\"), which sesmail calls")
	if os.Getenv("AWS_ENDPOINT_URL_SESV2") == "" {
		t.Fatal("AWS_ENDPOINT_URL_SESV2 is not set; source infra/local/env.sh")
	}
	ctx := context.Background()
	to := "ops@" + strings.Trim(localtest.UniquePrefix(t), "-") + ".example"
	m := sesmail.Mailer{Client: sesv2.NewFromConfig(st.Config), From: "notify@bulkops.local"}
	id, err := m.SendMail(ctx, notify.Mail{To: to, Subject: "Subject ✓", Text: "Body\nline 2"})
	if err != nil || id == "" {
		t.Fatalf("SendMail: %q %v", id, err)
	}
	resp, err := http.Get(os.Getenv("AWS_ENDPOINT_URL_SESV2") + "/_local/ses/messages?to=" + to)
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Messages []devstack.SentEmail }
	_ = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if len(page.Messages) != 1 || page.Messages[0].MessageID != id || page.Messages[0].Subject != "Subject ✓" || page.Messages[0].Text != "Body\nline 2" {
		t.Fatalf("the stack's SES holds %+v", page.Messages)
	}

	sandbox := devstack.NewSES(10)
	sandbox.Verified = func(identity string) bool { return identity == "verified.example" }
	mux := http.NewServeMux()
	sandbox.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := sesv2.NewFromConfig(st.Config, func(o *sesv2.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxBackoff = 10 * time.Millisecond })
	})
	if _, err := (sesmail.Mailer{Client: client, From: "n@verified.example"}).SendMail(ctx, notify.Mail{To: to, Subject: "s", Text: "b"}); err != nil {
		t.Fatalf("verified sender: %v", err)
	}
	_, err = (sesmail.Mailer{Client: client, From: "n@unverified.example"}).SendMail(ctx, notify.Mail{To: to, Subject: "s", Text: "b"})
	if bulkerr.KindOf(err) != bulkerr.Invalid || !strings.Contains(err.Error(), "not verified") {
		t.Fatalf("unverified sender: %v (kind %s), want Invalid", err, bulkerr.KindOf(err))
	}
	resp, err = http.Post(srv.URL+"/_local/ses/fail?count=10&status=429", "", nil)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("fail switch: %v %v", resp, err)
	}
	_, err = (sesmail.Mailer{Client: client, From: "n@verified.example"}).SendMail(ctx, notify.Mail{To: to, Subject: "s", Text: "b"})
	if bulkerr.KindOf(err) != bulkerr.Transient {
		t.Fatalf("throttled: %v (kind %s), want Transient", err, bulkerr.KindOf(err))
	}
}
