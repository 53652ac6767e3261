// Package dynamostore keeps jobs, tenant locks, upload-event claims, chunk
// completion markers and configuration objects in DynamoDB. The table
// layouts are defined in template.yaml (ObjectsTable, JobsTable,
// ControlTable); this package is their only reader and writer.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Tables names the three tables.
type Tables struct {
	Objects string
	Jobs    string
	Control string
}

// Store is the DynamoDB store. It is safe for concurrent use.
type Store struct {
	db        *dynamodb.Client
	tables    Tables
	now       func() time.Time
	writePath WritePath
	pageItems int32 // Query page size of listings (0: defaultPageItems)
}

// New returns a Store. now is the clock (time.Now in production; tests pass
// their own so they never sleep).
func New(db *dynamodb.Client, tables Tables, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, tables: tables, now: now, writePath: ConditionalWritePath}
}

// isConditionFailed reports whether err is a failed condition expression.
func isConditionFailed(err error) bool {
	var ccf *ddbtypes.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// classify turns an SDK error into a bulkerr with the right kind: throttling
// and server-side failures are Transient (the workflow retries them), the
// rest Internal.
func classify(err error, doing string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(doing, args...)
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
			"InternalServerError", "ServiceUnavailable", "TransactionConflictException":
			return bulkerr.Wrap(bulkerr.Transient, err, "%s: the database is busy, try again", what)
		}
		return bulkerr.Wrap(bulkerr.Internal, err, "%s", what)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return bulkerr.Wrap(bulkerr.Transient, err, "%s: timed out", what)
	}
	// network errors and the like: retrying may help
	return bulkerr.Wrap(bulkerr.Transient, err, "%s", what)
}

func s(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }

func n(v int64) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(v)}
}

func key(pk, sk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": s(pk), "sk": s(sk)}
}

// consistent is used for every read that decides something.
var consistent = aws.Bool(true)
