package dynamostore

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// The lease fence of the fenced write path (WriteFenced).
//
// BatchWriteItem takes no condition, so nothing in a write can refuse a
// writer that lost the tenant lock. The fenced path is exact anyway because
// of who writes objects and when:
//
//  1. Only an import job that holds its tenant's lock writes objects: Apply
//     is called by importflow's ProcessChunk (after ExtendLock and the lease
//     keeper's renewal) and by FinishCancelled for a job whose lock it still
//     holds (its final write releases it); the layout migration
//     (MigrateObjects) is an operator step run before the service takes
//     imports. So an object's conditions only ever guarded against (a) a
//     retry of the same chunk and (b) a previous holder still writing.
//  2. (a) A chunk's decisions are stored (chunks/<n>.json) before its first
//     write, and every retry writes exactly them: the same objects, IDs and
//     versions (the decided previous version + 1, not the stored one + 1),
//     so writing a put twice leaves what writing it once leaves. Keys are
//     unique across a job's chunks (duplicates are rejected at Prepare).
//     The chunk's counts come from its decisions and are added once, by the
//     commit marker's transaction; a committed chunk writes nothing again.
//  3. (b) Every wave of BatchWriteItem requests is licensed by one
//     conditional write to the lock item (fence): it succeeds only while
//     the writer is the holder and its lease runs at least FenceWindow +
//     FenceMargin past the writer's clock t0 taken before the check, and it
//     records writeUntil = t0 + FenceWindow (kept as the largest of its
//     writers' values). The wave's requests run under a context deadline of
//     t0 + FenceWindow: none is sent, retried or waited for after it.
//  4. A job that takes the lock over, from an expired lease or from a
//     release, records the previous lease end and the previous writeUntil
//     (prevLeaseUntil, prevWriteUntil, in the same conditional write that
//     takes the lock), and neither decides nor writes before
//     quietUntil = max(prevLeaseUntil, prevWriteUntil) + LockDelay by its
//     own clock (Chubby's lock-delay): ExtendLock and every fence wait it
//     out. A release leaves a marker with writeUntil (or deletes the item
//     when the last window closed more than LockDelay ago), so a late
//     writer of the releasing job is covered too.
//  5. So the old holder's last request ended (client side) by its clock's
//     writeUntil ≤ prevWriteUntil, and the new holder reads and writes only
//     after prevWriteUntil + LockDelay by its clock. With clocks within ε of
//     true time and a request that DynamoDB has not applied within δ after
//     its client gave up never applied, the two never overlap when
//     LockDelay > 2ε + δ.
//
// Clock assumption: Lambda hosts' clocks are kept by the Amazon Time Sync
// Service (NTP), whose error is well under a millisecond; FenceMargin and
// LockDelay allow seconds. δ is not documented by AWS: a write that reached
// DynamoDB is applied in its request's lifetime (single-digit ms on AWS),
// and a client deadline closes the connection; LockDelay allows five
// seconds for it, against latencies a thousand times smaller on AWS. The
// window is 5 s, not the milliseconds AWS needs, because DynamoDB Local
// on a loaded 2-core machine took more than 2 s for one request. A clock that
// jumps by seconds, or a request stuck inside DynamoDB for seconds after
// its connection closed, would break the argument; the conditional paths
// (WriteStatements …) stay for a store used without the tenant lock.
const (
	// FenceWindow is how long one fence check licenses writes: the context
	// deadline of a wave's requests, from the writer's clock before the
	// check.
	FenceWindow = 5 * time.Second
	// FenceMargin is what the lease must run past the window for the check
	// to succeed.
	FenceMargin = 2 * time.Second
	// LockDelay is how long past the previous holder's lease end or last
	// write window a new holder waits before it decides or writes.
	LockDelay = 5 * time.Second
)

// attrMillis reads the number attribute name of item as Unix milliseconds
// (zero when absent).
func attrMillis(item map[string]ddbtypes.AttributeValue, name string) time.Time {
	v, ok := item[name].(*ddbtypes.AttributeValueMemberN)
	if !ok {
		return time.Time{}
	}
	ms, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// quietUntil is when the holder of lock item may start deciding and
// writing: LockDelay past the previous holder's lease end and last write
// window (zero when the lock was taken fresh).
func quietUntil(item map[string]ddbtypes.AttributeValue) time.Time {
	last := attrMillis(item, "prevLeaseUntil")
	if w := attrMillis(item, "prevWriteUntil"); w.After(last) {
		last = w
	}
	if last.IsZero() {
		return time.Time{}
	}
	return last.Add(LockDelay)
}

// waitQuiet sleeps until the lock-delay of item has passed by the store's
// clock.
func (st *Store) waitQuiet(ctx context.Context, item map[string]ddbtypes.AttributeValue) error {
	q := quietUntil(item)
	if d := q.Sub(st.now()); d > 0 {
		return sleep(ctx, d)
	}
	return nil
}

// errLostLock is the fence's refusal.
func errLostLock(tenant, job, why string) error {
	return bulkerr.New(bulkerr.Conflict, "job %s may not write the objects of tenant %s: %s; nothing more is written, so two bulk operations never write at once", job, tenant, why)
}

// fence licenses one wave of unfenced writes by job to tenant's objects and
// returns the deadline of its requests. It fails with Conflict when job
// does not hold the lock or its lease ends too soon, and waits out the
// lock-delay after a takeover first.
func (st *Store) fence(ctx context.Context, tenant, job string) (time.Time, error) {
	waited := false
	for attempt := 0; ; attempt++ {
		t0 := st.now()
		until := t0.Add(FenceWindow)
		out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           &st.tables.Control,
			Key:                 lockKey(tenant),
			UpdateExpression:    aws.String("SET writeUntil = :w"),
			ConditionExpression: aws.String("holder = :job AND leaseUntil >= :need AND (attribute_not_exists(writeUntil) OR writeUntil <= :w)"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
				":job": s(job), ":w": n(until.UnixMilli()), ":need": n(until.Add(FenceMargin).UnixMilli()),
			},
			ReturnValues: ddbtypes.ReturnValueAllNew,
		})
		var item map[string]ddbtypes.AttributeValue
		switch {
		case err == nil:
			item = out.Attributes
		case isConditionFailed(err):
			// Either not the holder, a lease too short, or another writer
			// of the job recorded a later window (which covers ours).
			got, gerr := st.db.GetItem(ctx, &dynamodb.GetItemInput{
				TableName: &st.tables.Control, Key: lockKey(tenant), ConsistentRead: consistent,
			})
			if gerr != nil {
				return time.Time{}, classify(gerr, "reading the lock of tenant %s", tenant)
			}
			item = got.Item
			holder, _ := item["holder"].(*ddbtypes.AttributeValueMemberS)
			if holder == nil || holder.Value != job {
				return time.Time{}, errLostLock(tenant, job, "it no longer holds the tenant lock")
			}
			if attrMillis(item, "leaseUntil").Before(until.Add(FenceMargin)) {
				return time.Time{}, errLostLock(tenant, job, "its lease ends before a write could finish")
			}
			if attrMillis(item, "writeUntil").Before(until) {
				// Changed between the write and the read: check again.
				if attempt > 8 {
					return time.Time{}, bulkerr.New(bulkerr.Transient, "checking the lock of tenant %s: it kept changing", tenant)
				}
				continue
			}
		default:
			return time.Time{}, classify(err, "checking the lock of tenant %s", tenant)
		}
		if q := quietUntil(item); !waited && q.After(st.now()) {
			if err := st.waitQuiet(ctx, item); err != nil {
				return time.Time{}, err
			}
			waited = true
			continue // the window was taken before the wait: take a new one
		}
		// The wave's deadline, on the process's clock (the store's clock may
		// be a test's): what is left of the window by the store's clock.
		return time.Now().Add(until.Sub(st.now())), nil
	}
}
