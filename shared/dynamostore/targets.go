package dynamostore

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/delivery"
)

// Delivery targets are kept in the control table: a delivery.Target as one
// JSON attribute "target" under pk "TARGET#<tenant>", sk the target ID. A
// target holds no secret: an SFTP target's credential is in Secrets
// Manager, the item has its ARN only.

func targetKey(tenant, id string) map[string]ddbtypes.AttributeValue {
	return key("TARGET#"+tenant, id)
}

// PutTarget creates t; it fails with Conflict if the ID exists and with
// Invalid if t is not a valid stored target.
func (st *Store) PutTarget(ctx context.Context, t delivery.Target) error {
	if err := t.ValidateStored(); err != nil {
		return err
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "encoding target %s", t.ID)
	}
	item := targetKey(t.Tenant, t.ID)
	item["target"] = s(string(raw))
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &st.tables.Control, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if isConditionFailed(err) {
		return bulkerr.New(bulkerr.Conflict, "target %s already exists", t.ID)
	}
	return classify(err, "creating target %s", t.ID)
}

// ReplaceTarget writes after over before (the same tenant and ID), only
// if the stored target is still before: a target changed or deleted
// meanwhile is a Conflict, and nothing is written.
func (st *Store) ReplaceTarget(ctx context.Context, before, after delivery.Target) error {
	if before.Tenant != after.Tenant || before.ID != after.ID {
		return bulkerr.New(bulkerr.Internal, "replacing target %s with target %s", before.ID, after.ID)
	}
	if err := after.ValidateStored(); err != nil {
		return err
	}
	oldRaw, err1 := json.Marshal(before)
	newRaw, err2 := json.Marshal(after)
	if err := errors.Join(err1, err2); err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "encoding target %s", after.ID)
	}
	item := targetKey(after.Tenant, after.ID)
	item["target"] = s(string(newRaw))
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &st.tables.Control, Item: item, ConditionExpression: aws.String("#t = :old"),
		ExpressionAttributeNames:  map[string]string{"#t": "target"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":old": s(string(oldRaw))},
	})
	if isConditionFailed(err) {
		return bulkerr.New(bulkerr.Conflict, "target %s was changed or deleted meanwhile; read it again and redo your change", after.ID)
	}
	return classify(err, "changing target %s", after.ID)
}

// GetTarget returns one target of tenant, or NotFound (also for another
// tenant's target).
func (st *Store) GetTarget(ctx context.Context, tenant, id string) (delivery.Target, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.tables.Control, Key: targetKey(tenant, id), ConsistentRead: consistent})
	if err != nil {
		return delivery.Target{}, classify(err, "reading target %s", id)
	}
	if out.Item == nil {
		return delivery.Target{}, bulkerr.New(bulkerr.NotFound, "target %s not found", id)
	}
	return decodeTarget(tenant, out.Item)
}

// ListTargets returns every target of tenant, by ID.
func (st *Store) ListTargets(ctx context.Context, tenant string) ([]delivery.Target, error) {
	in := &dynamodb.QueryInput{
		TableName:                 &st.tables.Control,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": s("TARGET#" + tenant)},
		ConsistentRead:            consistent,
	}
	list := []delivery.Target{}
	for {
		out, err := st.db.Query(ctx, in)
		if err != nil {
			return nil, classify(err, "listing the targets of tenant %s", tenant)
		}
		for _, it := range out.Items {
			t, err := decodeTarget(tenant, it)
			if err != nil {
				return nil, err
			}
			list = append(list, t)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return list, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// DeleteTarget removes a target; NotFound if it does not exist.
func (st *Store) DeleteTarget(ctx context.Context, tenant, id string) error {
	_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &st.tables.Control, Key: targetKey(tenant, id), ConditionExpression: aws.String("attribute_exists(pk)"),
	})
	if isConditionFailed(err) {
		return bulkerr.New(bulkerr.NotFound, "target %s not found", id)
	}
	return classify(err, "deleting target %s", id)
}

func decodeTarget(tenant string, item map[string]ddbtypes.AttributeValue) (delivery.Target, error) {
	raw, ok := item["target"].(*ddbtypes.AttributeValueMemberS)
	if !ok {
		return delivery.Target{}, bulkerr.New(bulkerr.Internal, "a target item of tenant %s has no target attribute", tenant)
	}
	var t delivery.Target
	if err := json.Unmarshal([]byte(raw.Value), &t); err != nil {
		return delivery.Target{}, bulkerr.Wrap(bulkerr.Internal, err, "decoding a target of tenant %s", tenant)
	}
	t.Tenant = tenant
	return t, nil
}
