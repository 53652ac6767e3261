package dynamostore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/idempotency"
)

func idemKey(tenant, k string) map[string]ddbtypes.AttributeValue {
	return key("IDEM#"+tenant, k)
}

// ClaimIdempotencyKey records that tenant's request hash is being answered
// under key, for lease (a request that dies while being answered frees its
// key when the lease runs out). One conditional write decides between
// racing requests: claimed=false returns the record that is there (an
// answer to replay, a request still running, or another request's hash).
func (st *Store) ClaimIdempotencyKey(ctx context.Context, tenant, k, hash string, lease time.Duration) (idempotency.Response, bool, error) {
	now := st.now()
	item := idemKey(tenant, k)
	item["hash"] = s(hash)
	item["expiresAt"] = n(now.Add(lease).Unix())
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &st.tables.Control,
		Item:      item,
		// Expired records count as gone: TTL removes items only eventually.
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR expiresAt <= :now"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":now": n(now.Unix())},
	})
	if err == nil {
		return idempotency.Response{Hash: hash}, true, nil
	}
	if !isConditionFailed(err) {
		return idempotency.Response{}, false, classify(err, "claiming an idempotency key")
	}
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.Control, Key: idemKey(tenant, k), ConsistentRead: consistent,
	})
	if err != nil {
		return idempotency.Response{}, false, classify(err, "reading an idempotency key")
	}
	if len(out.Item) == 0 {
		return idempotency.Response{}, false, bulkerr.New(bulkerr.Transient, "the idempotency key was released meanwhile; retry")
	}
	rec := idempotency.Response{Hash: schedStr(out.Item, "hash")}
	if v, ok := schedNum(out.Item, "status"); ok {
		rec.Status = int(v)
	}
	if h := schedStr(out.Item, "header"); h != "" {
		if err := json.Unmarshal([]byte(h), &rec.Header); err != nil {
			return idempotency.Response{}, false, bulkerr.Wrap(bulkerr.Internal, err, "decoding a stored answer")
		}
	}
	if b, ok := out.Item["body"].(*ddbtypes.AttributeValueMemberB); ok {
		rec.Body = b.Value
	}
	return rec, false, nil
}

// SaveIdempotentResponse stores the answer to the request that claimed
// key, kept for keep (TTL attribute expiresAt). It writes only while the
// key is still claimed for the same request.
func (st *Store) SaveIdempotentResponse(ctx context.Context, tenant, k string, r idempotency.Response, keep time.Duration) error {
	header, err := json.Marshal(r.Header)
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "encoding an answer")
	}
	item := idemKey(tenant, k)
	item["hash"] = s(r.Hash)
	item["status"] = n(int64(r.Status))
	item["header"] = s(string(header))
	item["body"] = &ddbtypes.AttributeValueMemberB{Value: r.Body}
	item["expiresAt"] = n(st.now().Add(keep).Unix())
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &st.tables.Control,
		Item:                      item,
		ConditionExpression:       aws.String("#hash = :hash AND attribute_not_exists(#status)"),
		ExpressionAttributeNames:  map[string]string{"#hash": "hash", "#status": "status"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":hash": s(r.Hash)},
	})
	if isConditionFailed(err) {
		return bulkerr.New(bulkerr.Conflict, "the idempotency key's claim ran out before the answer was stored")
	}
	return classify(err, "storing the answer of idempotency key")
}

// ReleaseIdempotencyKey frees key when its request got no answer worth
// replaying (an error: the client may retry with the same key), if the key
// is still claimed by that request.
func (st *Store) ReleaseIdempotencyKey(ctx context.Context, tenant, k, hash string) error {
	_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 &st.tables.Control,
		Key:                       idemKey(tenant, k),
		ConditionExpression:       aws.String("#hash = :hash AND attribute_not_exists(#status)"),
		ExpressionAttributeNames:  map[string]string{"#hash": "hash", "#status": "status"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":hash": s(hash)},
	})
	if isConditionFailed(err) {
		return nil
	}
	return classify(err, "releasing idempotency key")
}
