package dynamostore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
)

// BatchWriteMax is DynamoDB's limit of puts in one BatchWriteItem.
const BatchWriteMax = 25

// FencedInFlight is the most BatchWriteItem requests one Apply has in
// flight, whatever concurrency it is given: one wave, licensed by one fence
// check (fence.go).
const FencedInFlight = 16

// applyFenced sends puts as unconditional BatchWriteItem requests of up to
// BatchWriteMax, in waves of up to FencedInFlight requests; each wave is
// licensed by a fence check of job's tenant lock and runs under the
// deadline the check gives (fence.go explains why that is exact). Every
// write is reported Applied: a retry of the chunk writes the same puts
// again, which leaves what one write leaves.
func (o *Objects) applyFenced(ctx context.Context, job string, puts []preparedPut, concurrency int) ([]catalog.WriteResult, error) {
	results := make([]catalog.WriteResult, len(puts))
	var pending [][]ddbtypes.WriteRequest
	for start := 0; start < len(puts); start += BatchWriteMax {
		var g []ddbtypes.WriteRequest
		for _, p := range puts[start:min(start+BatchWriteMax, len(puts))] {
			g = append(g, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: p.put.Item}})
		}
		pending = append(pending, g)
	}
	inFlight := max(1, min(concurrency, FencedInFlight))
	stalls := 0
	var last time.Time
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, bulkerr.Wrap(bulkerr.Transient, err, "writing objects: interrupted")
		}
		deadline, err := o.st.fence(ctx, o.tenant, job)
		if err != nil {
			return nil, err
		}
		wave := pending[:min(inFlight, len(pending))]
		last = o.restamp(wave, last)
		left, progress, err := o.writeWave(ctx, deadline, wave)
		if err != nil {
			return nil, err
		}
		pending = append(left, pending[len(wave):]...)
		if progress {
			stalls = 0
			continue
		}
		// Nothing written in a whole window: throttled, or a very slow
		// database. Back off before the next window.
		if stalls++; stalls > 8 {
			return nil, bulkerr.New(bulkerr.Transient, "writing %s objects: the database kept refusing the writes", puts[0].obj.Type)
		}
		if err := sleep(ctx, backoff(stalls)); err != nil {
			return nil, err
		}
	}
	for i := range results {
		results[i] = catalog.Applied
	}
	return results, nil
}

// restamp gives every item of wave, in order, its write time as updatedAt,
// taken after the wave's fence check: strictly increasing from after last
// (the previous wave's last stamp) and returned. Since a wave's requests
// are never sent after the check's deadline (at most FenceWindow later), an
// object is stored within FenceWindow of its updatedAt or not at all,
// however long earlier waves took or how often items went back to a later
// wave (throttling, UnprocessedItems): an incremental export whose window
// ends WriteLag (a minute) before it reads sees every write of its window.
// A retried chunk stamps the objects it writes again, so a later window may
// list an object again (same fields and version); it never misses one. A
// create's createdAt is its updatedAt, as Apply's other paths write it.
func (o *Objects) restamp(wave [][]ddbtypes.WriteRequest, last time.Time) time.Time {
	for _, reqs := range wave {
		for _, r := range reqs {
			last = o.nextStamp(last)
			av, _ := stamp(last).MarshalDynamoDBAttributeValue()
			r.PutRequest.Item["updatedAt"] = av
			if v, ok := r.PutRequest.Item["version"].(*ddbtypes.AttributeValueMemberN); ok && v.Value == "1" {
				r.PutRequest.Item["createdAt"] = av // a create: created when written
			}
		}
	}
	return last
}

// writeWave sends every request of wave at once under deadline, each
// retrying its UnprocessedItems with backoff while the deadline allows. It
// returns what is left to write (requests cut short by the deadline,
// throttled, or with items left unprocessed) and whether anything was
// written.
func (o *Objects) writeWave(ctx context.Context, deadline time.Time, wave [][]ddbtypes.WriteRequest) ([][]ddbtypes.WriteRequest, bool, error) {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	left := make([][]ddbtypes.WriteRequest, len(wave))
	wrote := make([]bool, len(wave))
	errs := make([]error, len(wave))
	var wg sync.WaitGroup
	for i, reqs := range wave {
		wg.Add(1)
		go func() {
			defer wg.Done()
			left[i], wrote[i], errs[i] = o.batchWrite(wctx, reqs)
		}()
	}
	wg.Wait()
	var rest [][]ddbtypes.WriteRequest
	progress := false
	for i := range wave {
		if errs[i] != nil {
			return nil, false, errs[i]
		}
		progress = progress || wrote[i]
		if len(left[i]) > 0 {
			rest = append(rest, left[i])
		}
	}
	if ctx.Err() != nil {
		return nil, false, bulkerr.Wrap(bulkerr.Transient, ctx.Err(), "writing objects: interrupted")
	}
	return rest, progress, nil
}

// batchWrite sends reqs as BatchWriteItem until every item is processed or
// ctx's deadline (the fence window) ends; it returns the items not known
// to be written. Throttling and the deadline leave items for the next
// window; other errors fail.
func (o *Objects) batchWrite(ctx context.Context, reqs []ddbtypes.WriteRequest) ([]ddbtypes.WriteRequest, bool, error) {
	wrote := false
	for attempt := 0; len(reqs) > 0; attempt++ {
		if attempt > 0 {
			if sleep(ctx, backoff(attempt-1)) != nil {
				return reqs, wrote, nil // the window ended
			}
		}
		if ctx.Err() != nil {
			return reqs, wrote, nil
		}
		out, err := o.st.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]ddbtypes.WriteRequest{o.st.tables.Objects: reqs},
		})
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || throttled(err) {
				return reqs, wrote, nil
			}
			return nil, wrote, classify(err, "writing objects")
		}
		un := out.UnprocessedItems[o.st.tables.Objects]
		if len(un) < len(reqs) {
			wrote = true
		}
		reqs = un
	}
	return nil, wrote, nil
}

// throttled reports whether err is DynamoDB refusing for load (the SDK's
// own retries gave up): the write is tried again in a later window.
func throttled(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable":
		return true
	}
	return false
}
