package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
)

// WritePath is how Apply sends a chunk's puts. The conditional paths
// (WriteEach, WriteTransact, WriteStatements) apply the same conditions, so
// each is exact under retries whoever writes: a create only if the key is
// new, an update only at the version the chunk decided on, a repeat by the
// same job recognised as AlreadyApplied. WriteFenced writes without
// conditions and is exact only for a job that holds its tenant's lock, the
// one writer of objects the import workflow has (fence.go).
type WritePath int

const (
	// WriteEach sends one conditional PutItem per object (concurrency in
	// flight).
	WriteEach WritePath = iota
	// WriteTransact sends up to TransactMax conditional puts in one
	// TransactWriteItems (concurrency, at most TransactInFlight,
	// transactions in flight). A condition
	// that fails cancels the transaction; the store then finds out which
	// puts this job had already applied and which conflict, and sends the
	// rest again.
	WriteTransact
	// WriteStatements sends up to StatementsMax conditional writes in one
	// PartiQL BatchExecuteStatement (concurrency, at most
	// StatementsInFlight, batches in flight): a
	// create is an INSERT (refused when the key exists), an update an
	// UPDATE … WHERE version = the decided one. Each statement succeeds or
	// fails on its own, at the price of a plain write; failed conditions
	// are settled as in WriteEach.
	WriteStatements
	// WriteFenced sends up to BatchWriteMax plain puts in one
	// BatchWriteItem (concurrency, at most FencedInFlight, requests in
	// flight), each wave of requests licensed by a check of the writing
	// job's tenant lock and cut off at the check's deadline; a takeover of
	// the lock waits a lock-delay before it decides or writes (fence.go).
	// Only a job that holds its tenant's lock may use it: any other is
	// refused with Conflict and writes nothing. Every write is reported
	// Applied (a retry writes the chunk's stored decisions again, with the
	// same versions).
	WriteFenced
)

// DefaultWritePath is the path the import workflow writes its chunks with
// (importapp.Assemble): BatchWriteItem under the lease fence. All four
// paths were measured in one run on DynamoDB Local
// (docs/import-workflow-benchmarks.md), where it was the fastest and the
// only one above DynamoDB Local's raw PutItem rate by a wide margin; on
// AWS a BatchWriteItem put costs the write units of a plain put (1 per KB),
// like the PartiQL batches and half a transaction's
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
const DefaultWritePath = WriteFenced

// ConditionalWritePath is the path of a store made by New: the PartiQL
// batches, exact without the tenant lock (tests, tools and any writer
// that does not hold a tenant's lock).
const ConditionalWritePath = WriteStatements

// String names the path (benchmarks report it).
func (p WritePath) String() string {
	switch p {
	case WriteEach:
		return "put-each"
	case WriteTransact:
		return "transact"
	case WriteStatements:
		return "statements"
	case WriteFenced:
		return "fenced-batch"
	}
	return fmt.Sprintf("WritePath(%d)", int(p))
}

// WithWritePath returns a store that shares st's client, tables and clock
// and writes objects by path p.
func (st *Store) WithWritePath(p WritePath) *Store {
	c := *st
	c.writePath = p
	return &c
}

// TransactMax is DynamoDB's limit of actions in one TransactWriteItems.
const TransactMax = 100

// TransactInFlight is the most transactions one Apply has in flight,
// whatever concurrency it is given: on DynamoDB Local 4 per chunk were the
// fastest of 2, 4, 8 and 16 (docs/import-workflow-benchmarks.md), and a
// chunk of 1,000 rows is 10 transactions.
const TransactInFlight = 4

// applyTransact sends puts in transactions of up to TransactMax,
// concurrency (at most TransactInFlight) at a time.
func (o *Objects) applyTransact(ctx context.Context, job string, puts []preparedPut, concurrency int) ([]catalog.WriteResult, error) {
	return applyInGroups(ctx, job, puts, TransactMax, min(concurrency, TransactInFlight), o.transact)
}

// applyInGroups cuts puts into groups of at most size and sends each with
// send, inFlight groups at a time; each put's result lands at its index.
// A cancelled context stops it before the next group, with its error.
func applyInGroups(ctx context.Context, job string, puts []preparedPut, size, inFlight int,
	send func(ctx context.Context, job string, puts []preparedPut, idx []int, res []catalog.WriteResult) error) ([]catalog.WriteResult, error) {
	results := make([]catalog.WriteResult, len(puts))
	var groups [][]int
	for start := 0; start < len(puts); start += size {
		g := make([]int, 0, size)
		for i := start; i < min(start+size, len(puts)); i++ {
			g = append(g, i)
		}
		groups = append(groups, g)
	}
	errs := make([]error, len(groups))
	sem := make(chan struct{}, max(inFlight, 1))
	var wg sync.WaitGroup
	for gi, g := range groups {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[gi] = send(ctx, job, puts, g, results)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err // groups after the cancel were never sent
	}
	return results, nil
}

// transact applies the puts at idx as transactions, recording each put's
// result in res. A cancelled transaction applied nothing: the puts whose
// condition failed are settled (AlreadyApplied or Conflicted) and the rest
// sent again; a transaction cancelled for contention or throttling is sent
// again after a pause.
func (o *Objects) transact(ctx context.Context, job string, puts []preparedPut, idx []int, res []catalog.WriteResult) error {
	pending := idx
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 10 {
			return bulkerr.New(bulkerr.Transient, "writing %s objects: the database kept cancelling the transaction", puts[pending[0]].obj.Type)
		}
		items := make([]ddbtypes.TransactWriteItem, len(pending))
		for i, k := range pending {
			items[i] = ddbtypes.TransactWriteItem{Put: puts[k].put}
		}
		_, err := o.st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			for _, k := range pending {
				res[k] = catalog.Applied
			}
			return nil
		}
		var tce *ddbtypes.TransactionCanceledException
		if !errors.As(err, &tce) {
			return classify(err, "writing %s objects", puts[pending[0]].obj.Type)
		}
		codes := cancellationCodes(tce, len(pending))
		var failed, rest []int
		busy := false
		for i, k := range pending {
			switch codes[i] {
			case "ConditionalCheckFailed":
				failed = append(failed, k)
			case "", "None":
				rest = append(rest, k)
			default: // TransactionConflict, ThrottlingError, ProvisionedThroughputExceeded …
				busy = true
				rest = append(rest, k)
			}
		}
		if len(failed) == 0 && !busy {
			return bulkerr.Wrap(bulkerr.Internal, err, "writing %s objects: transaction cancelled without a reason", puts[pending[0]].obj.Type)
		}
		if _, err := o.afterConditionFailed(ctx, job, puts, failed, res); err != nil {
			return err
		}
		pending = rest
		if busy && len(pending) > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return err
			}
		}
	}
	return nil
}

// cancellationCodes are the reasons of a cancelled transaction of n
// actions, one per action in order. DynamoDB sends them as
// CancellationReasons; where a server sends only the message ("…
// [ConditionalCheckFailed, None]") they are read from it.
func cancellationCodes(tce *ddbtypes.TransactionCanceledException, n int) []string {
	codes := make([]string, n)
	if len(tce.CancellationReasons) == n {
		for i, r := range tce.CancellationReasons {
			if r.Code != nil {
				codes[i] = *r.Code
			}
		}
		return codes
	}
	msg := tce.ErrorMessage()
	open, end := strings.LastIndex(msg, "["), strings.LastIndex(msg, "]")
	if open < 0 || end < open {
		return codes
	}
	parts := strings.Split(msg[open+1:end], ",")
	if len(parts) != n {
		return codes
	}
	for i, p := range parts {
		codes[i] = strings.TrimSpace(p)
	}
	return codes
}

// TableNames are the tables st reads and writes (benchmarks that load
// items around the store use them).
func (st *Store) TableNames() Tables { return st.tables }

// StatementsMax is DynamoDB's limit of statements in one
// BatchExecuteStatement.
const StatementsMax = 25

// StatementsInFlight is the most batches one Apply has in flight, whatever
// concurrency it is given: on DynamoDB Local 4 per chunk were faster than
// 16 (docs/import-workflow-benchmarks.md); on AWS 4 batches of 25 at the
// documented single-digit-millisecond latency are thousands of rows a
// second per chunk.
const StatementsInFlight = 4

// objectColumns are the attributes of an object item in the order the
// PartiQL statements bind them.
var objectColumns = []string{"pk", "sk", "type", "id", "name", "fields", "version", "createdAt", "updatedAt", "jobId"}

// statement is p as a conditional PartiQL write: INSERT for a create (it
// fails with DuplicateItem when the key exists), UPDATE of every attribute
// WHERE the key and the decided version match for an update.
func (o *Objects) statement(p preparedPut) (ddbtypes.BatchStatementRequest, error) {
	table := strings.ReplaceAll(o.st.tables.Objects, `"`, `""`)
	params := make([]ddbtypes.AttributeValue, 0, len(objectColumns)+1)
	var b strings.Builder
	if p.prev == 0 {
		fmt.Fprintf(&b, `INSERT INTO "%s" VALUE {`, table)
		for i, c := range objectColumns {
			v, ok := p.put.Item[c]
			if !ok {
				return ddbtypes.BatchStatementRequest{}, bulkerr.New(bulkerr.Internal, "object item without %s", c)
			}
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "'%s': ?", c)
			params = append(params, v)
		}
		b.WriteString("}")
	} else {
		fmt.Fprintf(&b, `UPDATE "%s"`, table)
		for _, c := range objectColumns[2:] {
			fmt.Fprintf(&b, ` SET "%s" = ?`, c)
			params = append(params, p.put.Item[c])
		}
		b.WriteString(` WHERE "pk" = ? AND "sk" = ? AND "version" = ?`)
		params = append(params, p.put.Item["pk"], p.put.Item["sk"], n(p.prev))
	}
	st := b.String()
	return ddbtypes.BatchStatementRequest{Statement: &st, Parameters: params}, nil
}

// applyStatements sends puts as BatchExecuteStatement requests of up to
// StatementsMax, concurrency (at most StatementsInFlight) at a time.
func (o *Objects) applyStatements(ctx context.Context, job string, puts []preparedPut, concurrency int) ([]catalog.WriteResult, error) {
	return applyInGroups(ctx, job, puts, StatementsMax, min(concurrency, StatementsInFlight), o.statements)
}

// statements applies the puts at idx as one BatchExecuteStatement, then
// settles the statements whose condition failed and sends those that were
// throttled again after a pause.
func (o *Objects) statements(ctx context.Context, job string, puts []preparedPut, idx []int, res []catalog.WriteResult) error {
	reqs := make(map[int]ddbtypes.BatchStatementRequest, len(idx))
	for _, k := range idx {
		r, err := o.statement(puts[k])
		if err != nil {
			return err
		}
		reqs[k] = r
	}
	pending := idx
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 10 {
			return bulkerr.New(bulkerr.Transient, "writing %s objects: the database kept refusing the statements", puts[pending[0]].obj.Type)
		}
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return err
			}
		}
		batch := make([]ddbtypes.BatchStatementRequest, len(pending))
		for i, k := range pending {
			batch[i] = reqs[k]
		}
		out, err := o.st.db.BatchExecuteStatement(ctx, &dynamodb.BatchExecuteStatementInput{Statements: batch})
		if err != nil {
			return classify(err, "writing %s objects", puts[pending[0]].obj.Type)
		}
		if len(out.Responses) != len(pending) {
			return bulkerr.New(bulkerr.Internal, "writing %s objects: %d answers to %d statements", puts[pending[0]].obj.Type, len(out.Responses), len(pending))
		}
		var failed, again []int
		for i, r := range out.Responses {
			k := pending[i]
			if r.Error == nil {
				res[k] = catalog.Applied
				continue
			}
			switch r.Error.Code {
			case ddbtypes.BatchStatementErrorCodeEnumConditionalCheckFailed, ddbtypes.BatchStatementErrorCodeEnumDuplicateItem:
				failed = append(failed, k)
			case ddbtypes.BatchStatementErrorCodeEnumThrottlingError, ddbtypes.BatchStatementErrorCodeEnumProvisionedThroughputExceeded,
				ddbtypes.BatchStatementErrorCodeEnumRequestLimitExceeded, ddbtypes.BatchStatementErrorCodeEnumInternalServerError,
				ddbtypes.BatchStatementErrorCodeEnumTransactionConflict:
				again = append(again, k)
			default:
				msg := ""
				if r.Error.Message != nil {
					msg = *r.Error.Message
				}
				return bulkerr.New(bulkerr.Internal, "writing %s %q: %s %s", puts[k].obj.Type, puts[k].obj.Name, r.Error.Code, msg)
			}
		}
		if _, err := o.afterConditionFailed(ctx, job, puts, failed, res); err != nil {
			return err
		}
		pending = again
	}
	return nil
}
