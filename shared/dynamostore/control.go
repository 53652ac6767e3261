package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// Lock is the state of a tenant lock as AcquireLock found it.
type Lock struct {
	Acquired bool      // true when the caller holds the lock now
	Holder   string    // the job holding it (the caller when Acquired)
	Until    time.Time // when the holder's lease ends
}

func lockKey(tenant string) map[string]ddbtypes.AttributeValue {
	return key("LOCK#"+tenant, "LOCK")
}

// AcquireLock takes tenant's bulk-operation lock for job with the given
// lease, by one conditional write: it succeeds when nobody holds the lock,
// the holder's lease has ended, or job already holds it (then the lease is
// renewed). Otherwise it reports the current holder.
func (st *Store) AcquireLock(ctx context.Context, tenant, job string, lease time.Duration) (Lock, error) {
	now := st.now()
	until := now.Add(lease)
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &st.tables.Control,
		Item: map[string]ddbtypes.AttributeValue{
			"pk": s("LOCK#" + tenant), "sk": s("LOCK"),
			"holder": s(job), "leaseUntil": n(until.UnixMilli()), "acquiredAt": n(now.UnixMilli()),
			"leaseShard": leaseShard(tenant), // the sweeper's index (leases.go)
		},
		ConditionExpression: aws.String("attribute_not_exists(pk) OR leaseUntil < :now OR holder = :job"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":now": n(now.UnixMilli()), ":job": s(job),
		},
	})
	if err == nil {
		return Lock{Acquired: true, Holder: job, Until: until}, nil
	}
	if !isConditionFailed(err) {
		return Lock{}, classify(err, "taking the lock of tenant %s", tenant)
	}
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.Control, Key: lockKey(tenant), ConsistentRead: consistent,
	})
	if err != nil {
		return Lock{}, classify(err, "reading the lock of tenant %s", tenant)
	}
	if out.Item == nil { // released between our write and read: try once more later
		return Lock{Holder: "", Until: now}, nil
	}
	holder, _ := out.Item["holder"].(*ddbtypes.AttributeValueMemberS)
	l := Lock{Until: now}
	if holder != nil {
		l.Holder = holder.Value
	}
	if v, ok := out.Item["leaseUntil"].(*ddbtypes.AttributeValueMemberN); ok {
		if ms, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
			l.Until = time.UnixMilli(ms)
		}
	}
	return l, nil
}

// ExtendLock renews job's lease on tenant's lock. It fails with Conflict when
// job no longer holds the lock (its lease ended and another job took it).
func (st *Store) ExtendLock(ctx context.Context, tenant, job string, lease time.Duration) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &st.tables.Control,
		Key:                 lockKey(tenant),
		UpdateExpression:    aws.String("SET leaseUntil = :until"),
		ConditionExpression: aws.String("holder = :job"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":until": n(st.now().Add(lease).UnixMilli()), ":job": s(job),
		},
	})
	if isConditionFailed(err) {
		return bulkerr.New(bulkerr.Conflict, "job %s lost the tenant lock (its lease ran out); the import was stopped so two bulk operations never run at once", job)
	}
	return classify(err, "extending the lock of tenant %s", tenant)
}

// ReleaseLock releases tenant's lock if job holds it; otherwise it does
// nothing, so only the holder can ever release.
func (st *Store) ReleaseLock(ctx context.Context, tenant, job string) error {
	_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 &st.tables.Control,
		Key:                       lockKey(tenant),
		ConditionExpression:       aws.String("holder = :job"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":job": s(job)},
	})
	if isConditionFailed(err) {
		return nil
	}
	return classify(err, "releasing the lock of tenant %s", tenant)
}

// ClaimUpload records that the upload identified by uploadID (bucket, key,
// version and sequencer of the S3 event) belongs to job. When the upload
// was already claimed (a re-delivered event), it returns the job that
// claimed it and claimed=false.
func (st *Store) ClaimUpload(ctx context.Context, uploadID, job string) (owner string, claimed bool, err error) {
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &st.tables.Control,
		Item: map[string]ddbtypes.AttributeValue{
			"pk": s("UPLOAD#" + uploadID), "sk": s("UPLOAD"), "job": s(job),
			"expiresAt": n(st.now().Add(30 * 24 * time.Hour).Unix()),
		},
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if err == nil {
		return job, true, nil
	}
	if !isConditionFailed(err) {
		return "", false, classify(err, "claiming upload")
	}
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.Control, Key: key("UPLOAD#"+uploadID, "UPLOAD"), ConsistentRead: consistent,
	})
	if err != nil {
		return "", false, classify(err, "reading upload claim")
	}
	if v, ok := out.Item["job"].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value, false, nil
	}
	return "", false, bulkerr.New(bulkerr.Transient, "upload claim vanished; retry")
}

func chunkKey(tenant, job string, index int) map[string]ddbtypes.AttributeValue {
	return key("JOB#"+tenant+"#"+job, fmt.Sprintf("CHUNK#%06d", index))
}

// ChunkDone reports whether chunk index of job was committed.
func (st *Store) ChunkDone(ctx context.Context, tenant, job string, index int) (bool, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.Control, Key: chunkKey(tenant, job, index), ConsistentRead: consistent,
	})
	if err != nil {
		return false, classify(err, "reading chunk %d of job %s", index, job)
	}
	return out.Item != nil, nil
}

// CommitChunk records chunk index of job as done and adds its counts to the
// job, in one transaction, exactly once: committing the same chunk again
// changes nothing and returns nil.
func (st *Store) CommitChunk(ctx context.Context, tenant, job string, index int, c jobs.Counts) error {
	ck := chunkKey(tenant, job, index)
	ck["expiresAt"] = n(st.now().Add(jobs.Retention).Unix())
	ck["processed"] = n(int64(c.Processed))
	_, err := st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []ddbtypes.TransactWriteItem{
			{Put: &ddbtypes.Put{
				TableName:           &st.tables.Control,
				Item:                ck,
				ConditionExpression: aws.String("attribute_not_exists(pk)"),
			}},
			{Update: &ddbtypes.Update{
				TableName:           &st.tables.Jobs,
				Key:                 key(tenant, job),
				UpdateExpression:    aws.String("ADD #p :p, #c :c, #u :u, #un :un, #f :f"),
				ConditionExpression: aws.String("attribute_exists(pk)"),
				// Several counter names are DynamoDB reserved words.
				ExpressionAttributeNames: map[string]string{
					"#p": "processed", "#c": "created", "#u": "updated", "#un": "unchanged", "#f": "failed",
				},
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
					":p": n(int64(c.Processed)), ":c": n(int64(c.Created)), ":u": n(int64(c.Updated)),
					":un": n(int64(c.Unchanged)), ":f": n(int64(c.Failed)),
				},
			}},
		},
	})
	var tce *ddbtypes.TransactionCanceledException
	if errors.As(err, &tce) {
		if len(tce.CancellationReasons) > 0 && aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
			return nil // committed before: exactly once
		}
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "TransactionConflict" {
				return bulkerr.Wrap(bulkerr.Transient, err, "committing chunk %d of job %s: conflict, retry", index, job)
			}
		}
		return bulkerr.Wrap(bulkerr.Internal, err, "committing chunk %d of job %s", index, job)
	}
	return classify(err, "committing chunk %d of job %s", index, job)
}

// PeekLock reports who holds tenant's lock now, without taking it: the
// holder's job ID and lease end, or "" when the lock is free (never taken,
// released, or its lease has ended).
func (st *Store) PeekLock(ctx context.Context, tenant string) (Lock, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.Control, Key: lockKey(tenant), ConsistentRead: consistent,
	})
	if err != nil {
		return Lock{}, classify(err, "reading the lock of tenant %s", tenant)
	}
	var l Lock
	if h, ok := out.Item["holder"].(*ddbtypes.AttributeValueMemberS); ok {
		l.Holder = h.Value
	}
	if v, ok := out.Item["leaseUntil"].(*ddbtypes.AttributeValueMemberN); ok {
		if ms, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
			l.Until = time.UnixMilli(ms)
		}
	}
	if l.Holder != "" && !l.Until.After(st.now()) {
		l = Lock{} // the lease ended: free for the next job
	}
	return l, nil
}
