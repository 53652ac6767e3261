package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

func sesClient(url string, anonymous bool) *sesv2.Client {
	o := sesv2.Options{Region: "eu-west-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("local", "localsecret", ""),
		Retryer:     retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = 0 })}
	if anonymous {
		o.Credentials = aws.AnonymousCredentials{}
	}
	return sesv2.New(o)
}

func simple(from string, to []string, subject, text string) *sesv2.SendEmailInput {
	return &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(from),
		Destination:      &sestypes.Destination{ToAddresses: to},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String(subject)},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String(text), Charset: aws.String("UTF-8")}},
		}},
	}
}

// TestSESWithTheSDK sends mail with the real SES v2 client to the local
// SES and reads it back from the retrospection endpoint; SES's refusals
// come back as the SDK's typed errors.
func TestSESWithTheSDK(t *testing.T) {
	ses := NewSES(10)
	ses.Verified = func(id string) bool { return id == "bulkops.example" || id == "ops@other.example" }
	mux := http.NewServeMux()
	ses.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	c := sesClient(srv.URL, false)

	out, err := c.SendEmail(ctx, simple("notify@bulkops.example", []string{"a@acme.example"}, "Hello", "Body ünicode"))
	if err != nil || aws.ToString(out.MessageId) == "" {
		t.Fatalf("SendEmail: %v %v", out, err)
	}
	if _, err := c.SendEmail(ctx, simple("ops@other.example", []string{"b@globex.example"}, "Other", "x")); err != nil {
		t.Fatal(err)
	}
	got := ses.Messages()
	if len(got) != 2 || got[0].MessageID != aws.ToString(out.MessageId) || got[0].From != "notify@bulkops.example" ||
		got[0].To[0] != "a@acme.example" || got[0].Subject != "Hello" || got[0].Text != "Body ünicode" || got[0].Region != "eu-west-1" {
		t.Fatalf("recorded %+v", got)
	}

	// GET /_local/ses/messages?to= filters by recipient.
	resp, err := http.Get(srv.URL + "/_local/ses/messages?to=B@globex.example")
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Messages []SentEmail }
	_ = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if len(page.Messages) != 1 || page.Messages[0].Subject != "Other" {
		t.Fatalf("filtered %+v", page.Messages)
	}

	refusals := []struct {
		name string
		in   *sesv2.SendEmailInput
		want any
		text string
	}{
		{"unverified sender", simple("x@unverified.example", []string{"a@acme.example"}, "s", "b"), &sestypes.MessageRejected{}, "not verified"},
		{"no recipient", simple("n@bulkops.example", nil, "s", "b"), &sestypes.BadRequestException{}, "recipient"},
		{"bad recipient", simple("n@bulkops.example", []string{"not an address"}, "s", "b"), &sestypes.BadRequestException{}, "Illegal address"},
		{"51 recipients", simple("n@bulkops.example", strings.Split(strings.Repeat("a@acme.example,", 51), ",")[:51], "s", "b"), &sestypes.MessageRejected{}, "exceeds 50"},
		{"unknown template", &sesv2.SendEmailInput{FromEmailAddress: aws.String("n@bulkops.example"), Destination: &sestypes.Destination{ToAddresses: []string{"a@acme.example"}},
			Content: &sestypes.EmailContent{Template: &sestypes.Template{TemplateName: aws.String("nope")}}}, &sestypes.NotFoundException{}, "does not exist"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, err := c.SendEmail(ctx, r.in)
			if err == nil || !strings.Contains(err.Error(), r.text) {
				t.Fatalf("error %v, want one saying %q", err, r.text)
			}
			switch r.want.(type) {
			case *sestypes.MessageRejected:
				var e *sestypes.MessageRejected
				if !errors.As(err, &e) {
					t.Fatalf("error %T %v, want MessageRejected", err, err)
				}
			case *sestypes.BadRequestException:
				var e *sestypes.BadRequestException
				if !errors.As(err, &e) {
					t.Fatalf("error %T %v, want BadRequestException", err, err)
				}
			case *sestypes.NotFoundException:
				var e *sestypes.NotFoundException
				if !errors.As(err, &e) {
					t.Fatalf("error %T %v, want NotFoundException", err, err)
				}
			}
		})
	}
	// What the SDK checks before sending, the server checks too (other
	// clients send what they like).
	for _, raw := range []struct{ body, code, text string }{
		{`{"FromEmailAddress":"n@bulkops.example"}`, "BadRequestException", "Content"},
		{`{"FromEmailAddress":"n@bulkops.example","Destination":{"ToAddresses":["a@acme.example"]},"Content":{"Simple":{"Subject":{"Data":"s"}}}}`, "BadRequestException", "Body"},
		{`{"Destination":{"ToAddresses":["a@acme.example"]},"Content":{"Simple":{"Subject":{"Data":"s"},"Body":{"Text":{"Data":"b"}}}}}`, "BadRequestException", "FromEmailAddress"},
		{`{"FromEmailAddress":"n@bulkops.example","Destination":{"ToAddresses":["a@acme.example"]},"Content":{"Simple":{"Subject":{"Data":"s\r\nBcc: x@evil.example"},"Body":{"Text":{"Data":"b"}}}}}`, "BadRequestException", "line breaks"},
		{`{"FromEmailAddress":"n@bulkops.example","Content":{"Simple":{},"Raw":{"Data":"eA=="}}}`, "BadRequestException", "exactly one"},
		{`not json`, "BadRequestException", "JSON"},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v2/email/outbound-emails", strings.NewReader(raw.body))
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20261201/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=00")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Message string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != raw.code || !strings.Contains(e.Message, raw.text) {
			t.Errorf("%s: %d %s %q, want 400 %s saying %q", raw.body, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), e.Message, raw.code, raw.text)
		}
	}
	if n := len(ses.Messages()); n != 2 {
		t.Fatalf("refused mail was recorded: %d messages", n)
	}

	// An unsigned request is refused.
	if _, err := sesClient(srv.URL, true).SendEmail(ctx, simple("n@bulkops.example", []string{"a@acme.example"}, "s", "b")); err == nil ||
		!strings.Contains(err.Error(), "MissingAuthenticationToken") {
		t.Fatalf("unsigned: %v", err)
	}

	// Told to fail: the SDK retries SES's 500s (3 attempts) and then
	// reports InternalServiceErrorException; 2 failures are retried away.
	for _, c2 := range []struct {
		count int
		ok    bool
	}{{2, true}, {3, false}} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/_local/ses/fail?count="+string(rune('0'+c2.count)), nil)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("fail switch: %v %v", resp, err)
		}
		_, err := c.SendEmail(ctx, simple("n@bulkops.example", []string{"a@acme.example"}, "retried", "b"))
		var ise *sestypes.InternalServiceErrorException
		if c2.ok != (err == nil) || (!c2.ok && !errors.As(err, &ise)) {
			t.Fatalf("after %d failures: %v", c2.count, err)
		}
	}

	// DELETE clears the record.
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/_local/ses/messages", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent || len(ses.Messages()) != 0 {
		t.Fatalf("clear: %v %v, %d left", resp, err, len(ses.Messages()))
	}
}

// TestWebhookSink records deliveries per name and fails as told.
func TestWebhookSink(t *testing.T) {
	sink := NewWebhookSink(10)
	mux := http.NewServeMux()
	sink.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(path, body string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Bulkops-Signature", "t=1,v1=00")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post("/_local/webhooks/acme/fail?count=2&status=503", ""); s != http.StatusNoContent {
		t.Fatalf("fail switch answered %d", s)
	}
	var statuses []int
	for i := 0; i < 3; i++ {
		statuses = append(statuses, post("/_local/webhooks/acme", `{"n":1}`))
	}
	post("/_local/webhooks/globex", `{"n":2}`)
	if statuses[0] != 503 || statuses[1] != 503 || statuses[2] != 204 {
		t.Fatalf("statuses %v", statuses)
	}
	resp, err := http.Get(srv.URL + "/_local/webhooks/acme")
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Deliveries []WebhookDelivery }
	_ = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if len(page.Deliveries) != 3 || page.Deliveries[2].Body != `{"n":1}` || page.Deliveries[2].Headers["Bulkops-Signature"] != "t=1,v1=00" ||
		page.Deliveries[0].Status != 503 || page.Deliveries[2].Status != 204 {
		t.Fatalf("acme's deliveries %+v", page.Deliveries)
	}
	if got := sink.Deliveries("globex"); len(got) != 1 || got[0].Body != `{"n":2}` {
		t.Fatalf("globex's deliveries %+v", got)
	}
	if s := post("/_local/webhooks/acme/fail?count=x", ""); s != http.StatusBadRequest {
		t.Fatalf("bad fail switch answered %d", s)
	}
}
