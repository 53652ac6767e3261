package dynamostore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TenantSettings are per-tenant options an operator sets (item
// pk "TENANT#<tenant>", sk "SETTINGS" in the control table). A tenant
// without the item has the zero settings.
type TenantSettings struct {
	// LargeFiles raises the import limits from 5,000 rows / 5 MB to
	// 1,000,000 rows / 500 MB per file.
	LargeFiles bool
}

func settingsKey(tenant string) map[string]ddbtypes.AttributeValue {
	return key("TENANT#"+tenant, "SETTINGS")
}

// TenantSettings reads tenant's settings.
func (st *Store) TenantSettings(ctx context.Context, tenant string) (TenantSettings, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.Control, Key: settingsKey(tenant), ConsistentRead: consistent,
	})
	if err != nil {
		return TenantSettings{}, classify(err, "reading the settings of tenant %s", tenant)
	}
	var ts TenantSettings
	if b, ok := out.Item["largeFiles"].(*ddbtypes.AttributeValueMemberBOOL); ok {
		ts.LargeFiles = b.Value
	}
	return ts, nil
}

// PutTenantSettings replaces tenant's settings.
func (st *Store) PutTenantSettings(ctx context.Context, tenant string, ts TenantSettings) error {
	item := settingsKey(tenant)
	item["largeFiles"] = &ddbtypes.AttributeValueMemberBOOL{Value: ts.LargeFiles}
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.tables.Control, Item: item})
	return classify(err, "writing the settings of tenant %s", tenant)
}
