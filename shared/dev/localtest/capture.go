package localtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ccbulk/bulkops/shared/awsenv"
)

// eventCapture keeps, on LocalStack, the events the tests' code publishes to
// the default bus: LocalStack's EventBridge has no list of the events it
// received (the dev server's GET /_local/events), so a rule of this test
// process sends every event of the bulkops source to a one-state (Pass)
// state machine, and each event is one execution whose input is the event.
// The rule is made by the first Require, before any test publishes.
type eventCapture struct {
	once    sync.Once
	err     error
	sfn     *sfn.Client
	machine string
	mu      sync.Mutex
	seen    map[string]capturedEvent // execution ARN → event
}

type capturedEvent struct {
	at time.Time
	ev BusEvent
}

var capture eventCapture

// start creates the capture's state machine and rule (once per process).
func (c *eventCapture) start(cfg aws.Config) error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var b [4]byte
		_, _ = rand.Read(b[:])
		name := "localtest-events-" + hex.EncodeToString(b[:])
		role := "arn:aws:iam::000000000000:role/" + name
		c.sfn = awsenv.SFN(cfg)
		c.seen = map[string]capturedEvent{}
		m, err := c.sfn.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
			Name: aws.String(name), RoleArn: aws.String(role),
			Definition: aws.String(`{"StartAt":"Received","States":{"Received":{"Type":"Pass","End":true}}}`),
		})
		if err != nil {
			c.err = fmt.Errorf("event capture state machine: %w", err)
			return
		}
		c.machine = aws.ToString(m.StateMachineArn)
		eb := awsenv.EventBridge(cfg)
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
			Name: aws.String(name), EventPattern: aws.String(`{"source":["bulkops"]}`),
		}); err != nil {
			c.err = fmt.Errorf("event capture rule: %w", err)
			return
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
			Rule:    aws.String(name),
			Targets: []ebtypes.Target{{Id: aws.String("capture"), Arn: aws.String(c.machine), RoleArn: aws.String(role)}},
		}); err != nil {
			c.err = fmt.Errorf("event capture target: %w", err)
		}
	})
	return c.err
}

// captureQuiet is how long the captured events' count must stay the same
// before a listing is taken as complete.
const captureQuiet = 2 * time.Second

// events lists the captured events, oldest first. Delivery to the target
// is asynchronous and may not have begun when the test asks (two quick
// listings can both be empty), so it lists until the count has stayed the
// same for captureQuiet, at most 10 s in all.
func (c *eventCapture) events(t testing.TB) []BusEvent {
	t.Helper()
	if c.machine == "" {
		t.Fatal("no event capture on LocalStack: call localtest.Require first")
	}
	ctx := context.Background()
	prev, since := -1, time.Now()
	for deadline := time.Now().Add(10 * time.Second); ; {
		n, err := c.refresh(ctx)
		if err != nil {
			t.Fatalf("captured events: %v", err)
		}
		if n != prev {
			prev, since = n, time.Now()
		}
		if time.Since(since) >= captureQuiet || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	all := make([]capturedEvent, 0, len(c.seen))
	for _, e := range c.seen {
		all = append(all, e)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	out := make([]BusEvent, len(all))
	for i, e := range all {
		out[i] = e.ev
	}
	return out
}

// refresh reads the executions not seen yet and returns how many there are.
func (c *eventCapture) refresh(ctx context.Context) (int, error) {
	p := sfn.NewListExecutionsPaginator(c.sfn, &sfn.ListExecutionsInput{StateMachineArn: aws.String(c.machine)})
	total := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, e := range page.Executions {
			total++
			arn := aws.ToString(e.ExecutionArn)
			c.mu.Lock()
			_, ok := c.seen[arn]
			c.mu.Unlock()
			if ok {
				continue
			}
			d, err := c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
			if err != nil {
				return 0, err
			}
			var ev BusEvent
			if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &ev); err != nil {
				return 0, fmt.Errorf("execution %s input: %w", arn, err)
			}
			c.mu.Lock()
			c.seen[arn] = capturedEvent{at: aws.ToTime(e.StartDate), ev: ev}
			c.mu.Unlock()
		}
	}
	return total, nil
}
