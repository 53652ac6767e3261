// Package sesmail sends the tenants' notification mail through Amazon SES
// (API v2, SendEmail with simple content): plain text, UTF-8, from the
// deployment's verified identity. It implements notify.Mailer. Locally
// the dev server plays SES v2 (shared/dev/devstack/ses.go,
// AWS_ENDPOINT_URL_SESV2).
package sesmail

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/notify"
)

// sender is the part of the SES v2 client the mailer uses.
type sender interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Mailer sends notify.Mail through SES.
type Mailer struct {
	Client sender
	// From is the sender address (an address of the verified identity).
	From string
	// ConfigurationSet is SES's configuration set (optional).
	ConfigurationSet string
}

// FromAddress is the sender of an SES identity: the identity itself when
// it is an address, bulkops-notifications@<identity> when it is a domain.
func FromAddress(identity string) string {
	if strings.Contains(identity, "@") {
		return identity
	}
	return "bulkops-notifications@" + identity
}

// SendMail implements notify.Mailer. SES's refusals of the message
// (MessageRejected, an unverified sender, a paused or suspended account,
// bad input) are Invalid; throttling and SES's own failures are Transient
// (the SDK has already retried them).
func (m Mailer) SendMail(ctx context.Context, msg notify.Mail) (string, error) {
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(m.From),
		Destination:      &sestypes.Destination{ToAddresses: []string{msg.To}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String(msg.Subject), Charset: aws.String("UTF-8")},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String(msg.Text), Charset: aws.String("UTF-8")}},
		}},
		EmailTags: []sestypes.MessageTag{{Name: aws.String("app"), Value: aws.String("bulkops")}},
	}
	if m.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(m.ConfigurationSet)
	}
	out, err := m.Client.SendEmail(ctx, in)
	if err != nil {
		return "", classify(err, msg.To)
	}
	return aws.ToString(out.MessageId), nil
}

func classify(err error, to string) error {
	var (
		rejected   *sestypes.MessageRejected
		unverified *sestypes.MailFromDomainNotVerifiedException
		bad        *sestypes.BadRequestException
		paused     *sestypes.SendingPausedException
		suspended  *sestypes.AccountSuspendedException
		notFound   *sestypes.NotFoundException
	)
	what := fmt.Sprintf("SES refused the mail to %s", to)
	switch {
	case errors.As(err, &rejected), errors.As(err, &unverified), errors.As(err, &bad),
		errors.As(err, &paused), errors.As(err, &suspended), errors.As(err, &notFound):
		return bulkerr.Wrap(bulkerr.Invalid, err, "%s: %v", what, err)
	}
	return bulkerr.Wrap(bulkerr.Transient, err, "sending the mail to %s through SES: %v", to, err)
}
