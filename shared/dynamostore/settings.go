package dynamostore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/notify"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

func settingsKey(tenant string) map[string]ddbtypes.AttributeValue {
	return key("TENANT#"+tenant, "SETTINGS")
}

// notificationAttr is the settings item's attribute holding the tenant's
// notification contact: a map of email, webhook and secretRef (the
// secret's reference only; the secret is in Secrets Manager).
const notificationAttr = "notification"

// TenantSettings reads tenant's settings (item pk "TENANT#<tenant>", sk
// "SETTINGS" in the control table); a tenant without the item has the
// zero settings. The contact's tenant is the tenant read, never a stored
// value.
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
	if m, ok := out.Item[notificationAttr].(*ddbtypes.AttributeValueMemberM); ok {
		ts.Notification = notify.Contact{Tenant: tenant, Email: str(m.Value, "email"), Webhook: str(m.Value, "webhook"), SecretRef: str(m.Value, "secretRef")}
	}
	return ts, nil
}

// PutTenantSettings replaces tenant's settings.
func (st *Store) PutTenantSettings(ctx context.Context, tenant string, ts tenancy.Settings) error {
	item := settingsKey(tenant)
	item["largeFiles"] = &ddbtypes.AttributeValueMemberBOOL{Value: ts.LargeFiles}
	if !ts.Notification.Empty() {
		item[notificationAttr] = contactItem(ts.Notification)
	}
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.tables.Control, Item: item})
	return classify(err, "writing the settings of tenant %s", tenant)
}

// SetNotificationContact replaces only tenant's notification contact (an
// empty one removes it), leaving the other settings as they are.
func (st *Store) SetNotificationContact(ctx context.Context, tenant string, c notify.Contact) error {
	in := &dynamodb.UpdateItemInput{
		TableName: &st.tables.Control, Key: settingsKey(tenant),
		ExpressionAttributeNames: map[string]string{"#n": notificationAttr},
	}
	if c.Empty() {
		in.UpdateExpression = aws.String("REMOVE #n")
	} else {
		in.UpdateExpression = aws.String("SET #n = :n")
		in.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{":n": contactItem(c)}
	}
	_, err := st.db.UpdateItem(ctx, in)
	return classify(err, "writing the notification contact of tenant %s", tenant)
}

func contactItem(c notify.Contact) ddbtypes.AttributeValue {
	m := map[string]ddbtypes.AttributeValue{}
	for k, v := range map[string]string{"email": c.Email, "webhook": c.Webhook, "secretRef": c.SecretRef} {
		if v != "" {
			m[k] = &ddbtypes.AttributeValueMemberS{Value: v}
		}
	}
	return &ddbtypes.AttributeValueMemberM{Value: m}
}

func str(m map[string]ddbtypes.AttributeValue, k string) string {
	if v, ok := m[k].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
