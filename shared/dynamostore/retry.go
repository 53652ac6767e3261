package dynamostore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// ClaimRetry records on tenant's job id that job retry retries its
// rejected rows, in one conditional write: it succeeds when the job has no
// retry yet (or already names retry, a repeated claim), and fails with
// Conflict naming the existing retry otherwise, so two retries of one job
// can never both start. A job of another tenant is not found.
func (st *Store) ClaimRetry(ctx context.Context, tenant, id, retry string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.tables.Jobs,
		Key:                       key(tenant, id),
		UpdateExpression:          aws.String("SET retriedBy = :r"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND (attribute_not_exists(retriedBy) OR retriedBy = :r)"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":r": s(retry)},
	})
	if isConditionFailed(err) {
		j, gerr := st.GetJob(ctx, tenant, id)
		if gerr != nil {
			return gerr
		}
		return bulkerr.New(bulkerr.Conflict, "job %s was already retried by job %s; follow that job, and retry it in turn if rows are still rejected", id, j.RetriedBy)
	}
	return classify(err, "recording the retry of job %s", id)
}

// ReleaseRetry undoes ClaimRetry when the retry could not be started (its
// file was not written): the claim is removed only while it still names
// retry.
func (st *Store) ReleaseRetry(ctx context.Context, tenant, id, retry string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.tables.Jobs,
		Key:                       key(tenant, id),
		UpdateExpression:          aws.String("REMOVE retriedBy"),
		ConditionExpression:       aws.String("retriedBy = :r"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":r": s(retry)},
	})
	if isConditionFailed(err) {
		return nil
	}
	return classify(err, "releasing the retry of job %s", id)
}

// AdoptJob gives a retry job that the API recorded before its file
// existed (jobs.Job.AwaitingRetryFile) the upload the import workflow
// started for it: j's bucket, source key and version and execution, in one
// conditional write that also removes the "building the retry file"
// message. It succeeds while the job is New, retries j.RetryOf (with j's
// dry run), is not
// being cancelled and has no source version or already this one (a
// retried StartJob); otherwise it is a Conflict: the job was failed or
// cancelled before its file arrived, or took another upload.
func (st *Store) AdoptJob(ctx context.Context, j jobs.Job) error {
	set := "SET #bucket = :b, sourceKey = :k, sourceVersion = :v"
	vals := map[string]ddbtypes.AttributeValue{
		":b": s(j.Bucket), ":k": s(j.SourceKey), ":v": s(j.SourceVersion),
		":new": s(string(jobs.StatusNew)), ":r": s(j.RetryOf), ":d": &ddbtypes.AttributeValueMemberBOOL{Value: j.DryRun},
	}
	if j.ExecutionArn != "" {
		set += ", executionArn = :e"
		vals[":e"] = s(j.ExecutionArn)
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        &st.tables.Jobs,
		Key:              key(j.Tenant, j.ID),
		UpdateExpression: aws.String(set + " REMOVE message"),
		ConditionExpression: aws.String("attribute_exists(pk) AND #st = :new AND retryOf = :r AND dryRun = :d AND " +
			"(attribute_not_exists(sourceVersion) OR sourceVersion = :v) AND " + notCancelled),
		ExpressionAttributeNames:  map[string]string{"#st": "status", "#bucket": "bucket"},
		ExpressionAttributeValues: vals,
	})
	if isConditionFailed(err) {
		return bulkerr.New(bulkerr.Conflict, "job %s no longer waits for its retry file", j.ID)
	}
	return classify(err, "adopting the upload of job %s", j.ID)
}
