package dynamostore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

func settingsKey(tenant string) map[string]ddbtypes.AttributeValue {
	return key("TENANT#"+tenant, "SETTINGS")
}

// TenantSettings reads tenant's settings (item pk "TENANT#<tenant>", sk
// "SETTINGS" in the control table); a tenant without the item has the
// zero settings.
func (st *Store) TenantSettings(ctx context.Context, tenant string) (tenancy.Settings, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.Control, Key: settingsKey(tenant), ConsistentRead: consistent,
	})
	if err != nil {
		return tenancy.Settings{}, classify(err, "reading the settings of tenant %s", tenant)
	}
	var ts tenancy.Settings
	if b, ok := out.Item["largeFiles"].(*ddbtypes.AttributeValueMemberBOOL); ok {
		ts.LargeFiles = b.Value
	}
	return ts, nil
}

// PutTenantSettings replaces tenant's settings.
func (st *Store) PutTenantSettings(ctx context.Context, tenant string, ts tenancy.Settings) error {
	item := settingsKey(tenant)
	item["largeFiles"] = &ddbtypes.AttributeValueMemberBOOL{Value: ts.LargeFiles}
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.tables.Control, Item: item})
	return classify(err, "writing the settings of tenant %s", tenant)
}
