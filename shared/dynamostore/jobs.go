package dynamostore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// jobItem is a job as stored in the jobs table.
type jobItem struct {
	PK          string     `dynamodbav:"pk"`
	SK          string     `dynamodbav:"sk"`
	Type        string     `dynamodbav:"jobType"`
	ObjectType  string     `dynamodbav:"objectType"`
	FileName    string     `dynamodbav:"fileName"`
	Bucket      string     `dynamodbav:"bucket,omitempty"`
	SourceKey   string     `dynamodbav:"sourceKey,omitempty"`
	SourceVer   string     `dynamodbav:"sourceVersion,omitempty"`
	DryRun      bool       `dynamodbav:"dryRun"`
	Status      string     `dynamodbav:"status"`
	SubmittedBy string     `dynamodbav:"submittedBy"`
	SubmittedAt time.Time  `dynamodbav:"submittedAt"`
	StartedAt   *time.Time `dynamodbav:"startedAt,omitempty"`
	EndedAt     *time.Time `dynamodbav:"endedAt,omitempty"`
	Total       int        `dynamodbav:"total"`
	Processed   int        `dynamodbav:"processed"`
	Created     int        `dynamodbav:"created"`
	Updated     int        `dynamodbav:"updated"`
	Unchanged   int        `dynamodbav:"unchanged"`
	Failed      int        `dynamodbav:"failed"`
	Chunks      int        `dynamodbav:"chunks"`
	ErrorKey    string     `dynamodbav:"errorKey,omitempty"`
	ResultsKey  string     `dynamodbav:"resultsKey,omitempty"`
	ResultsVer  string     `dynamodbav:"resultsVersion,omitempty"`
	Message     string     `dynamodbav:"message,omitempty"`
	Files       int        `dynamodbav:"files,omitempty"`
	CancelledBy string     `dynamodbav:"cancelledBy,omitempty"`
	CancelAt    *time.Time `dynamodbav:"cancelRequestedAt,omitempty"`
	Execution   string     `dynamodbav:"executionArn,omitempty"`
	RetryOf     string     `dynamodbav:"retryOf,omitempty"`
	RetriedBy   string     `dynamodbav:"retriedBy,omitempty"`
	ApplyOf     string     `dynamodbav:"applyOf,omitempty"`
	FailedPhase string     `dynamodbav:"failedPhase,omitempty"`
	ExpiresAt   int64      `dynamodbav:"expiresAt"`
	// Delivery is an export's delivery to a target.
	Delivery *jobs.Delivery `dynamodbav:"delivery,omitempty"`
}

func toJobItem(j jobs.Job) jobItem {
	return jobItem{
		PK: j.Tenant, SK: j.ID, Type: string(j.Type), ObjectType: j.ObjectType, FileName: j.FileName,
		Bucket: j.Bucket, SourceKey: j.SourceKey, SourceVer: j.SourceVersion, DryRun: j.DryRun, Status: string(j.Status),
		SubmittedBy: j.SubmittedBy, SubmittedAt: j.SubmittedAt, StartedAt: j.StartedAt, EndedAt: j.EndedAt,
		Total: j.Counts.Total, Processed: j.Counts.Processed, Created: j.Counts.Created,
		Updated: j.Counts.Updated, Unchanged: j.Counts.Unchanged, Failed: j.Counts.Failed,
		Chunks: j.Chunks, ErrorKey: j.ErrorKey, ResultsKey: j.ResultsKey, ResultsVer: j.ResultsVersion, Message: j.Message, Files: j.Files,
		CancelledBy: j.CancelledBy, CancelAt: j.CancelRequestedAt, Execution: j.ExecutionArn,
		RetryOf: j.RetryOf, RetriedBy: j.RetriedBy, ApplyOf: j.ApplyOf, FailedPhase: j.FailedPhase,
		ExpiresAt: j.SubmittedAt.Add(jobs.Retention).Unix(), Delivery: j.Delivery,
	}
}

func (it jobItem) job() jobs.Job {
	return jobs.Job{
		Tenant: it.PK, ID: it.SK, Type: jobs.Type(it.Type), ObjectType: it.ObjectType, FileName: it.FileName,
		Bucket: it.Bucket, SourceKey: it.SourceKey, SourceVersion: it.SourceVer, DryRun: it.DryRun, Status: jobs.Status(it.Status),
		SubmittedBy: it.SubmittedBy, SubmittedAt: it.SubmittedAt, StartedAt: it.StartedAt, EndedAt: it.EndedAt,
		Counts: jobs.Counts{Total: it.Total, Processed: it.Processed, Created: it.Created,
			Updated: it.Updated, Unchanged: it.Unchanged, Failed: it.Failed},
		Chunks: it.Chunks, ErrorKey: it.ErrorKey, ResultsKey: it.ResultsKey, ResultsVersion: it.ResultsVer, Message: it.Message, Files: it.Files,
		CancelledBy: it.CancelledBy, CancelRequestedAt: it.CancelAt, ExecutionArn: it.Execution,
		RetryOf: it.RetryOf, RetriedBy: it.RetriedBy, ApplyOf: it.ApplyOf, FailedPhase: it.FailedPhase,
		Delivery: it.Delivery,
	}
}

// CreateJob stores a new job. It fails with Conflict if the ID exists.
func (st *Store) CreateJob(ctx context.Context, j jobs.Job) error {
	item, err := attributevalue.MarshalMap(toJobItem(j))
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "encoding job %s", j.ID)
	}
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           &st.tables.Jobs,
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if isConditionFailed(err) {
		return bulkerr.New(bulkerr.Conflict, "job %s already exists", j.ID)
	}
	return classify(err, "creating job %s", j.ID)
}

// GetJob returns one job of tenant, or NotFound. A job of another tenant is
// simply not found.
func (st *Store) GetJob(ctx context.Context, tenant, id string) (jobs.Job, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.Jobs, Key: key(tenant, id), ConsistentRead: consistent,
	})
	if err != nil {
		return jobs.Job{}, classify(err, "reading job %s", id)
	}
	if out.Item == nil {
		return jobs.Job{}, bulkerr.New(bulkerr.NotFound, "job %s not found", id)
	}
	var it jobItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return jobs.Job{}, bulkerr.Wrap(bulkerr.Internal, err, "decoding job %s", id)
	}
	return it.job(), nil
}

// ListJobs returns up to limit jobs of tenant, newest first (one Query: job
// IDs are ULIDs, which sort by time).
func (st *Store) ListJobs(ctx context.Context, tenant string, limit int32) ([]jobs.Job, error) {
	out, err := st.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &st.tables.Jobs,
		KeyConditionExpression:    aws.String("pk = :t"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":t": s(tenant)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(limit),
	})
	if err != nil {
		return nil, classify(err, "listing jobs")
	}
	var items []jobItem
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		return nil, bulkerr.Wrap(bulkerr.Internal, err, "decoding jobs")
	}
	list := make([]jobs.Job, len(items))
	for i, it := range items {
		list[i] = it.job()
	}
	return list, nil
}

// MarkInProgress moves a New job to In Progress with its row total and chunk
// count. Repeating it on a job already In Progress (a retried step) is a
// no-op. A job whose cancel was asked for gets a Conflict.
func (st *Store) MarkInProgress(ctx context.Context, tenant, id string, total, chunks int, at time.Time) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &st.tables.Jobs,
		Key:                      key(tenant, id),
		UpdateExpression:         aws.String("SET #st = :ip, #total = :total, chunks = :chunks, startedAt = if_not_exists(startedAt, :at)"),
		ConditionExpression:      aws.String("attribute_exists(pk) AND (#st = :new OR #st = :ip) AND " + notCancelled),
		ExpressionAttributeNames: map[string]string{"#st": "status", "#total": "total"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":ip": s(string(jobs.StatusInProgress)), ":new": s(string(jobs.StatusNew)),
			":total": n(int64(total)), ":chunks": n(int64(chunks)), ":at": s(at.UTC().Format(time.RFC3339Nano)),
		},
	})
	if isConditionFailed(err) {
		return st.transitionError(ctx, tenant, id, jobs.StatusInProgress)
	}
	return classify(err, "starting job %s", id)
}

// SetExportResult records an export job's total (the objects it wrote),
// how many CSV files its ZIP has and the S3 version of the file it wrote
// ("" for none); the export calls it before Finish. Repeating it (a
// retried invocation) writes the values of that invocation.
func (st *Store) SetExportResult(ctx context.Context, tenant, id string, total, files int, version string) error {
	set, vals := "SET #total = :t, files = :f", map[string]ddbtypes.AttributeValue{":t": n(int64(total)), ":f": n(int64(files))}
	if version != "" {
		set += ", resultsVersion = :v"
		vals[":v"] = s(version)
	}
	return st.setInProgress(ctx, tenant, id, set, vals, "recording the result of job %s")
}

// SetDelivery records an export job's delivery to its target (done or
// failed); repeating it writes the same values again.
func (st *Store) SetDelivery(ctx context.Context, tenant, id string, d jobs.Delivery) error {
	av, err := attributevalue.Marshal(d)
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "encoding the delivery of job %s", id)
	}
	_, err = st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.tables.Jobs, Key: key(tenant, id),
		UpdateExpression:          aws.String("SET delivery = :d"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":d": av},
	})
	if isConditionFailed(err) {
		return bulkerr.New(bulkerr.NotFound, "job %s not found", id)
	}
	return classify(err, "recording the delivery of job %s", id)
}

// SetTotal sets the total of a job In Progress whose total was not known
// when it started (an export counts its objects while it writes them).
func (st *Store) SetTotal(ctx context.Context, tenant, id string, total int) error {
	return st.setInProgress(ctx, tenant, id, "SET #total = :t",
		map[string]ddbtypes.AttributeValue{":t": n(int64(total))}, "setting the total of job %s")
}

// setInProgress applies update (which may name #total) to a job that is In
// Progress and not being cancelled; anything else is a Conflict.
func (st *Store) setInProgress(ctx context.Context, tenant, id, update string, vals map[string]ddbtypes.AttributeValue, doing string) error {
	vals[":ip"] = s(string(jobs.StatusInProgress))
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.tables.Jobs,
		Key:                       key(tenant, id),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("attribute_exists(pk) AND #st = :ip AND " + notCancelled),
		ExpressionAttributeNames:  map[string]string{"#st": "status", "#total": "total"},
		ExpressionAttributeValues: vals,
	})
	if isConditionFailed(err) {
		return st.transitionError(ctx, tenant, id, jobs.StatusInProgress)
	}
	return classify(err, doing, id)
}

// Finish sets a job's final status (Completed or Completed with errors),
// report keys and end time. Repeating it with the same status is a no-op.
func (st *Store) Finish(ctx context.Context, tenant, id string, status jobs.Status, errorKey, resultsKey string, at time.Time) error {
	if !status.Final() || status == jobs.StatusFailed {
		return bulkerr.New(bulkerr.Internal, "Finish with status %s", status)
	}
	return st.FinishReport(ctx, tenant, id, status, errorKey, resultsKey, "", at)
}

// FinishReport is Finish for a job that ends with reports and, when
// message is set, a message saying what went wrong: an import some of
// whose chunks failed for good ends Completed with errors, or Failed when
// none was applied, with its error and results CSVs. Repeating it with the
// same status is a no-op.
func (st *Store) FinishReport(ctx context.Context, tenant, id string, status jobs.Status, errorKey, resultsKey, message string, at time.Time) error {
	return st.FinishReportIn(ctx, tenant, id, status, "", errorKey, resultsKey, message, at)
}

// FinishReportIn is FinishReport recording, for a job that ends Failed,
// the phase it failed in (jobs.Job.FailedPhase; "" records none).
func (st *Store) FinishReportIn(ctx context.Context, tenant, id string, status jobs.Status, phase, errorKey, resultsKey, message string, at time.Time) error {
	if !status.Final() {
		return bulkerr.New(bulkerr.Internal, "FinishReport with status %s", status)
	}
	names := map[string]string{"#st": "status"}
	vals := map[string]ddbtypes.AttributeValue{
		":final": s(string(status)), ":ip": s(string(jobs.StatusInProgress)),
		":at": s(at.UTC().Format(time.RFC3339Nano)),
	}
	set := "SET #st = :final, endedAt = if_not_exists(endedAt, :at)"
	if message != "" {
		set += ", message = :msg"
		vals[":msg"] = s(truncate(message, 2000))
	}
	if phase != "" {
		set += ", failedPhase = :phase"
		vals[":phase"] = s(truncate(phase, 200))
	}
	set += setReportKeys(vals, errorKey, resultsKey)
	done, err := st.finalWrite(ctx, tenant, id, ddbtypes.Update{
		TableName: &st.tables.Jobs, Key: key(tenant, id),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String("(#st = :ip AND " + notCancelled + ") OR #st = :final"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	if err != nil {
		return classify(err, "finishing job %s", id)
	}
	if !done {
		return st.transitionError(ctx, tenant, id, status)
	}
	return nil
}

// Fail marks a job Failed with a reason the tenant can act on. A job already
// final keeps its status (the first final status wins) and Fail returns nil;
// so does a job whose cancel was asked for: the cancel ends it, as
// Cancelled (FinishCancelled).
func (st *Store) Fail(ctx context.Context, tenant, id, reason string, at time.Time) error {
	return st.FailIn(ctx, tenant, id, "", reason, at)
}

// FailIn is Fail recording the phase the job failed in
// (jobs.Job.FailedPhase; "" records none), in the same write.
func (st *Store) FailIn(ctx context.Context, tenant, id, phase, reason string, at time.Time) error {
	set := "SET #st = :failed, message = :msg, endedAt = :at"
	vals := map[string]ddbtypes.AttributeValue{
		":failed": s(string(jobs.StatusFailed)), ":msg": s(truncate(reason, 2000)),
		":at":  s(at.UTC().Format(time.RFC3339Nano)),
		":new": s(string(jobs.StatusNew)), ":ip": s(string(jobs.StatusInProgress)),
	}
	if phase != "" {
		set += ", failedPhase = :phase"
		vals[":phase"] = s(truncate(phase, 200))
	}
	done, err := st.finalWrite(ctx, tenant, id, ddbtypes.Update{
		TableName: &st.tables.Jobs, Key: key(tenant, id),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String("attribute_exists(pk) AND (#st = :new OR #st = :ip) AND " + notCancelled),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: vals,
	})
	if err != nil {
		return classify(err, "failing job %s", id)
	}
	if !done {
		if _, gerr := st.GetJob(ctx, tenant, id); gerr != nil {
			return gerr
		}
	}
	return nil
}

// finalWrite applies upd, the update that gives a job its final status,
// and in the same transaction releases the tenant lock when that job holds
// it: a client that sees the final status can start the next bulk
// operation at once. When the job does not hold the lock (it never got it,
// lost it to an expired lease, or a retried step released it already) the
// update is applied alone. It returns false when upd's own condition
// failed.
func (st *Store) finalWrite(ctx context.Context, tenant, id string, upd ddbtypes.Update) (bool, error) {
	// The release deletes the lock item, or leaves the marker of a recent
	// write window (ReleaseLock, fence.go).
	for _, release := range []ddbtypes.TransactWriteItem{
		{Delete: st.releaseDelete(tenant, id)},
		{Update: st.releaseMarker(tenant, id)},
	} {
		_, err := st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []ddbtypes.TransactWriteItem{{Update: &upd}, release},
		})
		var tce *ddbtypes.TransactionCanceledException
		if !errors.As(err, &tce) {
			return err == nil, err
		}
		reasons := tce.CancellationReasons
		if len(reasons) == 2 && aws.ToString(reasons[0].Code) == "ConditionalCheckFailed" {
			return false, nil
		}
		if len(reasons) != 2 || aws.ToString(reasons[1].Code) != "ConditionalCheckFailed" {
			return false, err // a conflict or throttling: classify makes it transient
		}
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: upd.TableName, Key: upd.Key, UpdateExpression: upd.UpdateExpression,
		ConditionExpression: upd.ConditionExpression, ExpressionAttributeNames: upd.ExpressionAttributeNames,
		ExpressionAttributeValues: upd.ExpressionAttributeValues,
	})
	if isConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}

func (st *Store) transitionError(ctx context.Context, tenant, id string, to jobs.Status) error {
	j, err := st.GetJob(ctx, tenant, id)
	if err != nil {
		return err
	}
	if j.CancelRequested() {
		return bulkerr.New(bulkerr.Conflict, "job %s is being cancelled (by %s) and cannot become %s", id, j.CancelledBy, to)
	}
	return jobs.ErrNotMovable(id, j.Status, to)
}

// notCancelled is the condition that no cancel was asked for the job:
// once it was, nothing but the cancel moves the job or adds to its counts.
const notCancelled = "attribute_not_exists(cancelledBy)"

// RequestCancel records that user asked to cancel job id of tenant, if the
// job is New or In Progress, and returns the job as it is now. From then
// on no chunk commit, MarkInProgress, Finish or Fail changes it
// (notCancelled); FinishCancelled ends it. Asking again while the cancel is
// being carried out is allowed (a retried request finishes it; the first
// user stays recorded). A job that has ended gets a Conflict naming its
// status; one that does not exist, NotFound.
func (st *Store) RequestCancel(ctx context.Context, tenant, id, user string, at time.Time) (jobs.Job, error) {
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &st.tables.Jobs,
		Key:                      key(tenant, id),
		UpdateExpression:         aws.String("SET cancelledBy = if_not_exists(cancelledBy, :u), cancelRequestedAt = if_not_exists(cancelRequestedAt, :at)"),
		ConditionExpression:      aws.String("attribute_exists(pk) AND (#st = :new OR #st = :ip)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":u": s(user), ":at": s(at.UTC().Format(time.RFC3339Nano)),
			":new": s(string(jobs.StatusNew)), ":ip": s(string(jobs.StatusInProgress)),
		},
		ReturnValues: ddbtypes.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		j, gerr := st.GetJob(ctx, tenant, id)
		if gerr != nil {
			return jobs.Job{}, gerr
		}
		return jobs.Job{}, bulkerr.New(bulkerr.Conflict, "job %s has already ended (%s); only a job that is New or In Progress can be cancelled", id, j.Status)
	}
	if err != nil {
		return jobs.Job{}, classify(err, "cancelling job %s", id)
	}
	var it jobItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return jobs.Job{}, bulkerr.Wrap(bulkerr.Internal, err, "decoding job %s", id)
	}
	return it.job(), nil
}

// FinishCancelled ends job id, whose cancel was asked for (RequestCancel),
// as Cancelled with counts c, its reports
// (either key may be empty) and message, and releases the tenant lock in
// the same transaction when the job holds it. Repeating it on a Cancelled
// job is a no-op; any other job gets a Conflict.
func (st *Store) FinishCancelled(ctx context.Context, tenant, id string, c jobs.Counts, errorKey, resultsKey, message string, at time.Time) error {
	vals := map[string]ddbtypes.AttributeValue{
		":cancelled": s(string(jobs.StatusCancelled)), ":new": s(string(jobs.StatusNew)), ":ip": s(string(jobs.StatusInProgress)),
		":t": n(int64(c.Total)), ":p": n(int64(c.Processed)), ":f": n(int64(c.Failed)),
		":c": n(int64(c.Created)), ":u": n(int64(c.Updated)), ":un": n(int64(c.Unchanged)),
		":at": s(at.UTC().Format(time.RFC3339Nano)), ":msg": s(truncate(message, 2000)),
	}
	set := "SET #st = :cancelled, #total = :t, #p = :p, #f = :f, #c = :c, #u = :u, #un = :un, endedAt = :at, message = :msg"
	set += setReportKeys(vals, errorKey, resultsKey)
	done, err := st.finalWrite(ctx, tenant, id, ddbtypes.Update{
		TableName: &st.tables.Jobs, Key: key(tenant, id),
		UpdateExpression:    aws.String(set),
		ConditionExpression: aws.String("attribute_exists(cancelledBy) AND (#st = :new OR #st = :ip)"),
		ExpressionAttributeNames: map[string]string{"#st": "status", "#total": "total", "#p": "processed", "#f": "failed",
			"#c": "created", "#u": "updated", "#un": "unchanged"},
		ExpressionAttributeValues: vals,
	})
	if err != nil {
		return classify(err, "ending cancelled job %s", id)
	}
	if !done {
		j, err := st.GetJob(ctx, tenant, id)
		if err != nil {
			return err
		}
		if j.Status != jobs.StatusCancelled {
			return bulkerr.New(bulkerr.Conflict, "job %s is %s and cannot become %s", id, j.Status, jobs.StatusCancelled)
		}
	}
	return nil
}

func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut]) + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// PageJobs returns one page of up to limit jobs of tenant, newest first,
// starting after the job with ID after ("" for the first page), and the ID
// to pass as after for the next page ("" when there is none). One Query per
// page; the caller filters.
func (st *Store) PageJobs(ctx context.Context, tenant, after string, limit int32) ([]jobs.Job, string, error) {
	in := &dynamodb.QueryInput{
		TableName:                 &st.tables.Jobs,
		KeyConditionExpression:    aws.String("pk = :t"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":t": s(tenant)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(limit),
	}
	if after != "" {
		in.ExclusiveStartKey = key(tenant, after)
	}
	out, err := st.db.Query(ctx, in)
	if err != nil {
		return nil, "", classify(err, "listing jobs")
	}
	var items []jobItem
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		return nil, "", bulkerr.Wrap(bulkerr.Internal, err, "decoding jobs")
	}
	list := make([]jobs.Job, len(items))
	for i, it := range items {
		list[i] = it.job()
	}
	next := ""
	if sk, ok := out.LastEvaluatedKey["sk"].(*ddbtypes.AttributeValueMemberS); ok {
		next = sk.Value
	}
	return list, next, nil
}

// setReportKeys adds the report keys that are not empty to an update's
// values and returns their SET clauses (", errorKey = :ek" and so on).
func setReportKeys(vals map[string]ddbtypes.AttributeValue, errorKey, resultsKey string) string {
	set := ""
	if errorKey != "" {
		set += ", errorKey = :ek"
		vals[":ek"] = s(errorKey)
	}
	if resultsKey != "" {
		set += ", resultsKey = :rk"
		vals[":rk"] = s(resultsKey)
	}
	return set
}
