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
	"github.com/ccbulk/bulkops/shared/tenancy"
)

func lockKey(tenant string) map[string]ddbtypes.AttributeValue {
	return key("LOCK#"+tenant, "LOCK")
}

// AcquireLock takes tenant's bulk-operation lock for job with the given
// lease, by one conditional write: it succeeds when nobody holds the lock,
// the holder's lease has ended, or job already holds it (then the lease is
// renewed). Otherwise it reports the current holder.
//
// Taking the lock over (from a lease that ended, or from a release)
// records the previous lease end and write window in the same write
// (prevLeaseUntil, prevWriteUntil); the new holder's ExtendLock and write
// fences wait until LockDelay past them before it decides or writes
// (fence.go).
func (st *Store) AcquireLock(ctx context.Context, tenant, job string, lease time.Duration) (tenancy.Lock, error) {
	now := st.now()
	until := now.Add(lease)
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.tables.Control,
		Key:       lockKey(tenant),
		UpdateExpression: aws.String("SET holder = :job, leaseUntil = :until, acquiredAt = :now, leaseShard = :shard, " +
			"prevLeaseUntil = if_not_exists(leaseUntil, :zero), prevWriteUntil = if_not_exists(writeUntil, :zero) REMOVE releasedAt, expiresAt"),
		ConditionExpression: aws.String("attribute_not_exists(pk) OR attribute_not_exists(holder) OR (leaseUntil < :now AND holder <> :job)"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":now": n(now.UnixMilli()), ":job": s(job), ":until": n(until.UnixMilli()), ":zero": n(0),
			":shard": leaseShard(tenant), // the sweeper's index (leases.go)
		},
	})
	if err == nil {
		return tenancy.Lock{Acquired: true, Holder: job, Until: until}, nil
	}
	if !isConditionFailed(err) {
		return tenancy.Lock{}, classify(err, "taking the lock of tenant %s", tenant)
	}
	// job may hold it already (a retried step): renew, keeping the
	// lock-delay its takeover recorded.
	_, err = st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.tables.Control, Key: lockKey(tenant),
		UpdateExpression:    aws.String("SET leaseUntil = :until, leaseShard = :shard"),
		ConditionExpression: aws.String("holder = :job"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":job": s(job), ":until": n(until.UnixMilli()), ":shard": leaseShard(tenant),
		},
	})
	if err == nil {
		return tenancy.Lock{Acquired: true, Holder: job, Until: until}, nil
	}
	if !isConditionFailed(err) {
		return tenancy.Lock{}, classify(err, "taking the lock of tenant %s", tenant)
	}
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.Control, Key: lockKey(tenant), ConsistentRead: consistent,
	})
	if err != nil {
		return tenancy.Lock{}, classify(err, "reading the lock of tenant %s", tenant)
	}
	holder, _ := out.Item["holder"].(*ddbtypes.AttributeValueMemberS)
	if out.Item == nil || holder == nil { // released between our write and read: try once more later
		return tenancy.Lock{Holder: "", Until: now}, nil
	}
	l := tenancy.Lock{Until: now, Holder: holder.Value}
	if v, ok := out.Item["leaseUntil"].(*ddbtypes.AttributeValueMemberN); ok {
		if ms, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
			l.Until = time.UnixMilli(ms)
		}
	}
	return l, nil
}

// ExtendLock renews job's lease on tenant's lock. It fails with Conflict when
// job no longer holds the lock (its lease ended and another job took it).
// When job took the lock over less than LockDelay after the previous
// holder's lease end or last write window, it returns only once that
// lock-delay has passed, so nothing job decides or writes after it can
// overlap a late write of the previous holder (fence.go).
func (st *Store) ExtendLock(ctx context.Context, tenant, job string, lease time.Duration) error {
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &st.tables.Control,
		Key:                 lockKey(tenant),
		UpdateExpression:    aws.String("SET leaseUntil = :until"),
		ConditionExpression: aws.String("holder = :job"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":until": n(st.now().Add(lease).UnixMilli()), ":job": s(job),
		},
		ReturnValues: ddbtypes.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return bulkerr.New(bulkerr.Conflict, "job %s lost the tenant lock (its lease ran out); the import was stopped so two bulk operations never run at once", job)
	}
	if err != nil {
		return classify(err, "extending the lock of tenant %s", tenant)
	}
	return st.waitQuiet(ctx, out.Attributes)
}

// releaseDelete and releaseMarker are the two ways a holder job gives its
// lock up, tried in order: delete the item when its last write window closed more than
// LockDelay ago (or it never wrote), else leave a marker without a holder
// that keeps writeUntil, so the next holder waits the lock-delay past it.
// The marker is outside the leases index and expires after a day.
func (st *Store) releaseDelete(tenant, job string) *ddbtypes.Delete {
	return &ddbtypes.Delete{
		TableName: &st.tables.Control, Key: lockKey(tenant),
		ConditionExpression: aws.String("holder = :job AND (attribute_not_exists(writeUntil) OR writeUntil < :quiet)"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":job": s(job), ":quiet": n(st.now().Add(-LockDelay).UnixMilli()),
		},
	}
}

func (st *Store) releaseMarker(tenant, job string) *ddbtypes.Update {
	now := st.now()
	return &ddbtypes.Update{
		TableName: &st.tables.Control, Key: lockKey(tenant),
		UpdateExpression: aws.String("REMOVE holder, leaseUntil, leaseShard, acquiredAt, prevLeaseUntil, prevWriteUntil " +
			"SET releasedAt = :now, expiresAt = :ttl"),
		ConditionExpression: aws.String("holder = :job"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":job": s(job), ":now": n(now.UnixMilli()), ":ttl": n(now.Add(24 * time.Hour).Unix()),
		},
	}
}

// ReleaseLock releases tenant's lock if job holds it; otherwise it does
// nothing, so only the holder can ever release. A lock whose holder wrote
// objects less than LockDelay ago stays as a marker of that (fence.go).
func (st *Store) ReleaseLock(ctx context.Context, tenant, job string) error {
	d := st.releaseDelete(tenant, job)
	_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: d.TableName, Key: d.Key, ConditionExpression: d.ConditionExpression,
		ExpressionAttributeValues: d.ExpressionAttributeValues,
	})
	if !isConditionFailed(err) {
		return classify(err, "releasing the lock of tenant %s", tenant)
	}
	m := st.releaseMarker(tenant, job)
	_, err = st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: m.TableName, Key: m.Key, UpdateExpression: m.UpdateExpression,
		ConditionExpression: m.ConditionExpression, ExpressionAttributeValues: m.ExpressionAttributeValues,
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
// changes nothing and returns nil. The job must be In Progress and not
// being cancelled: a chunk that ends after its job was failed, finished or
// cancelled adds nothing and gets a Conflict.
func (st *Store) CommitChunk(ctx context.Context, tenant, job string, index int, c jobs.Counts) error {
	ck := chunkKey(tenant, job, index)
	ck["expiresAt"] = n(st.now().Add(jobs.Retention).Unix())
	ck["processed"] = n(int64(c.Processed))
	return st.countChunk(ctx, tenant, job, index, ck, c, "committing")
}

// FailChunk records chunk index of job (rows data rows) as failed for
// good, with the reason, and counts its rows as processed and failed, in
// one transaction, exactly once. A chunk already committed or failed stays
// as it is (nil); a job no longer In Progress gets a Conflict.
func (st *Store) FailChunk(ctx context.Context, tenant, job string, index, rows int, reason string) error {
	ck := chunkKey(tenant, job, index)
	ck["expiresAt"] = n(st.now().Add(jobs.Retention).Unix())
	ck["processed"] = n(int64(rows))
	ck["failedReason"] = s(truncate(reason, 1000))
	return st.countChunk(ctx, tenant, job, index, ck, jobs.Counts{Processed: rows, Failed: rows}, "failing")
}

// FailedChunks returns the chunks of job recorded by FailChunk, with their
// reasons.
func (st *Store) FailedChunks(ctx context.Context, tenant, job string) (map[int]string, error) {
	return st.chunkMarkers(ctx, tenant, job, true)
}

// CountedChunks returns every chunk of job that was counted: committed
// (reason "") or recorded as failed by FailChunk (its reason). Once a
// cancel was asked for (RequestCancel) no chunk is counted any more, so
// the list and the job's counters no longer change.
func (st *Store) CountedChunks(ctx context.Context, tenant, job string) (map[int]string, error) {
	return st.chunkMarkers(ctx, tenant, job, false)
}

// chunkMarkers reads the chunk markers of job: only those of failed
// chunks when onlyFailed.
func (st *Store) chunkMarkers(ctx context.Context, tenant, job string, onlyFailed bool) (map[int]string, error) {
	out := map[int]string{}
	in := &dynamodb.QueryInput{
		TableName:                 &st.tables.Control,
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :chunk)"),
		ProjectionExpression:      aws.String("sk, failedReason"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": s("JOB#" + tenant + "#" + job), ":chunk": s("CHUNK#")},
		ConsistentRead:            consistent,
	}
	if onlyFailed {
		in.FilterExpression = aws.String("attribute_exists(failedReason)")
	}
	p := dynamodb.NewQueryPaginator(st.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "listing the chunks of job %s", job)
		}
		for _, it := range page.Items {
			sk, _ := it["sk"].(*ddbtypes.AttributeValueMemberS)
			if sk == nil {
				continue
			}
			r, _ := it["failedReason"].(*ddbtypes.AttributeValueMemberS)
			if onlyFailed && r == nil {
				continue
			}
			i, err := strconv.Atoi(sk.Value[len("CHUNK#"):])
			if err != nil {
				return nil, bulkerr.Wrap(bulkerr.Internal, err, "chunk marker %q of job %s", sk.Value, job)
			}
			out[i] = ""
			if r != nil {
				out[i] = r.Value
			}
		}
	}
	return out, nil
}

func applyKey(tenant, job string, index int) map[string]ddbtypes.AttributeValue {
	return key("JOB#"+tenant+"#"+job, fmt.Sprintf("APPLY#%06d", index))
}

// ClaimChunkWrites records that chunk index of job is about to write its
// objects, in one transaction with the check that the job is In Progress
// and not being cancelled: a cancel (RequestCancel) and a claim are
// ordered, so a cancel knows every chunk that may be writing
// (ClaimedChunks) and no chunk starts writing after it. Claiming again (a
// retried chunk) is allowed while the job may still be written; once a
// cancel was asked for it is a Conflict.
func (st *Store) ClaimChunkWrites(ctx context.Context, tenant, job string, index int) error {
	item := applyKey(tenant, job, index)
	item["expiresAt"] = n(st.now().Add(jobs.Retention).Unix())
	_, err := st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []ddbtypes.TransactWriteItem{
			{ConditionCheck: &ddbtypes.ConditionCheck{
				TableName:                &st.tables.Jobs,
				Key:                      key(tenant, job),
				ConditionExpression:      aws.String("attribute_exists(pk) AND #st = :ip AND " + notCancelled),
				ExpressionAttributeNames: map[string]string{"#st": "status"},
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
					":ip": s(string(jobs.StatusInProgress)),
				},
			}},
			{Put: &ddbtypes.Put{TableName: &st.tables.Control, Item: item}},
		},
	})
	var tce *ddbtypes.TransactionCanceledException
	if errors.As(err, &tce) {
		reasons := tce.CancellationReasons
		if len(reasons) > 0 && aws.ToString(reasons[0].Code) == "ConditionalCheckFailed" {
			if err := st.transitionError(ctx, tenant, job, jobs.StatusInProgress); err != nil {
				return bulkerr.Wrap(bulkerr.Conflict, err, "chunk %d of job %s may not write: %s", index, job, bulkerr.Message(err))
			}
			return bulkerr.New(bulkerr.Conflict, "chunk %d of job %s may not write: the job is no longer in progress", index, job)
		}
		return bulkerr.Wrap(bulkerr.Transient, err, "claiming the writes of chunk %d of job %s", index, job)
	}
	return classify(err, "claiming the writes of chunk %d of job %s", index, job)
}

// ClaimedChunks lists the chunks of job that claimed their writes
// (ClaimChunkWrites).
func (st *Store) ClaimedChunks(ctx context.Context, tenant, job string) (map[int]bool, error) {
	out := map[int]bool{}
	p := dynamodb.NewQueryPaginator(st.db, &dynamodb.QueryInput{
		TableName:                 &st.tables.Control,
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :apply)"),
		ProjectionExpression:      aws.String("sk"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": s("JOB#" + tenant + "#" + job), ":apply": s("APPLY#")},
		ConsistentRead:            consistent,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "listing the claimed chunks of job %s", job)
		}
		for _, it := range page.Items {
			sk, _ := it["sk"].(*ddbtypes.AttributeValueMemberS)
			if sk == nil {
				continue
			}
			i, err := strconv.Atoi(sk.Value[len("APPLY#"):])
			if err != nil {
				return nil, bulkerr.Wrap(bulkerr.Internal, err, "chunk claim %q of job %s", sk.Value, job)
			}
			out[i] = true
		}
	}
	return out, nil
}

// countChunk puts the chunk marker ck (once) and adds c to the job's
// counters, while the job is In Progress.
func (st *Store) countChunk(ctx context.Context, tenant, job string, index int, ck map[string]ddbtypes.AttributeValue, c jobs.Counts, doing string) error {
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
				ConditionExpression: aws.String("attribute_exists(pk) AND #st = :ip AND " + notCancelled),
				// Several counter names are DynamoDB reserved words.
				ExpressionAttributeNames: map[string]string{
					"#p": "processed", "#c": "created", "#u": "updated", "#un": "unchanged", "#f": "failed", "#st": "status",
				},
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
					":p": n(int64(c.Processed)), ":c": n(int64(c.Created)), ":u": n(int64(c.Updated)),
					":un": n(int64(c.Unchanged)), ":f": n(int64(c.Failed)), ":ip": s(string(jobs.StatusInProgress)),
				},
			}},
		},
	})
	var tce *ddbtypes.TransactionCanceledException
	if errors.As(err, &tce) {
		reasons := tce.CancellationReasons
		if len(reasons) > 0 && aws.ToString(reasons[0].Code) == "ConditionalCheckFailed" {
			return nil // committed or failed before: exactly once
		}
		if len(reasons) > 1 && aws.ToString(reasons[1].Code) == "ConditionalCheckFailed" {
			if err := st.transitionError(ctx, tenant, job, jobs.StatusInProgress); err != nil {
				return bulkerr.Wrap(bulkerr.Conflict, err, "%s chunk %d of job %s: the job is no longer in progress, so the chunk is not counted", doing, index, job)
			}
			return bulkerr.New(bulkerr.Conflict, "%s chunk %d of job %s: the job is no longer in progress", doing, index, job)
		}
		for _, r := range reasons {
			if aws.ToString(r.Code) == "TransactionConflict" {
				return bulkerr.Wrap(bulkerr.Transient, err, "%s chunk %d of job %s: conflict, retry", doing, index, job)
			}
		}
		return bulkerr.Wrap(bulkerr.Internal, err, "%s chunk %d of job %s", doing, index, job)
	}
	return classify(err, "%s chunk %d of job %s", doing, index, job)
}

// PeekLock reports who holds tenant's lock now, without taking it: the
// holder's job ID and lease end, or "" when the lock is free (never taken,
// released, or its lease has ended).
func (st *Store) PeekLock(ctx context.Context, tenant string) (tenancy.Lock, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.Control, Key: lockKey(tenant), ConsistentRead: consistent,
	})
	if err != nil {
		return tenancy.Lock{}, classify(err, "reading the lock of tenant %s", tenant)
	}
	var l tenancy.Lock
	if h, ok := out.Item["holder"].(*ddbtypes.AttributeValueMemberS); ok {
		l.Holder = h.Value
	}
	if v, ok := out.Item["leaseUntil"].(*ddbtypes.AttributeValueMemberN); ok {
		if ms, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
			l.Until = time.UnixMilli(ms)
		}
	}
	if l.Holder != "" && !l.Until.After(st.now()) {
		l = tenancy.Lock{} // the lease ended: free for the next job
	}
	return l, nil
}

func grantKey(tenant, job string) map[string]ddbtypes.AttributeValue {
	return key("GRANT#"+tenant+"#"+job, "GRANT")
}

// RegisterUpload records g before its upload form is handed out; it is
// kept for ttl plus a day (event delivery may lag the upload), then
// expires.
func (st *Store) RegisterUpload(ctx context.Context, g jobs.UploadGrant, ttl time.Duration) error {
	item := grantKey(g.Tenant, g.JobID)
	item["objectKey"] = s(g.Key)
	item["submittedBy"] = s(g.SubmittedBy)
	item["dryRun"] = &ddbtypes.AttributeValueMemberBOOL{Value: g.DryRun}
	if g.RetryOf != "" {
		item["retryOf"] = s(g.RetryOf)
	}
	if g.ApplyOf != "" {
		item["applyOf"] = s(g.ApplyOf)
	}
	item["expiresAt"] = n(st.now().Add(ttl + 24*time.Hour).Unix())
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &st.tables.Control, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if isConditionFailed(err) {
		return bulkerr.New(bulkerr.Conflict, "upload of job %s already registered", g.JobID)
	}
	return classify(err, "registering the upload of job %s", g.JobID)
}

// RedeemUpload accepts a job ID found in an upload's metadata only if the
// API registered it for this tenant and key and no other upload has used
// it: the first upload (uploadID: bucket, key, version, sequencer) takes
// the grant, and the same upload may take it again (a re-delivered event).
// ok is false for a job ID the API never issued for this key, or one an
// earlier upload already used; the caller then starts a fresh job.
func (st *Store) RedeemUpload(ctx context.Context, tenant, job, objectKey, uploadID string) (jobs.UploadGrant, bool, error) {
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.tables.Control,
		Key:                       grantKey(tenant, job),
		UpdateExpression:          aws.String("SET usedBy = :u"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND objectKey = :k AND (attribute_not_exists(usedBy) OR usedBy = :u)"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":u": s(uploadID), ":k": s(objectKey)},
		ReturnValues:              ddbtypes.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return jobs.UploadGrant{}, false, nil
	}
	if err != nil {
		return jobs.UploadGrant{}, false, classify(err, "redeeming the upload of job %s", job)
	}
	g := jobs.UploadGrant{Tenant: tenant, JobID: job, Key: objectKey}
	if v, ok := out.Attributes["submittedBy"].(*ddbtypes.AttributeValueMemberS); ok {
		g.SubmittedBy = v.Value
	}
	if v, ok := out.Attributes["dryRun"].(*ddbtypes.AttributeValueMemberBOOL); ok {
		g.DryRun = v.Value
	}
	if v, ok := out.Attributes["retryOf"].(*ddbtypes.AttributeValueMemberS); ok {
		g.RetryOf = v.Value
	}
	if v, ok := out.Attributes["applyOf"].(*ddbtypes.AttributeValueMemberS); ok {
		g.ApplyOf = v.Value
	}
	return g, true, nil
}
