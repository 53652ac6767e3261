package dynamostore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/notify"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

// A tenant's settings are one control-table item (pk "TENANT#<tenant>", sk
// "SETTINGS"); every change through PutSettings also writes an audit item
// (sk "SETTINGS#AUDIT#<version, 12 digits>") in the same transaction, so
// no change goes unaudited.
const (
	settingsSK      = "SETTINGS"
	settingsAuditSK = "SETTINGS#AUDIT#"
)

func settingsKey(tenant string) map[string]ddbtypes.AttributeValue {
	return key("TENANT#"+tenant, settingsSK)
}

// notificationAttr is the settings item's attribute holding the tenant's
// notification contact: a map of email, webhook and secretRef (the
// secret's reference only; the secret is in Secrets Manager).
const notificationAttr = "notification"

// TenantSettings reads tenant's settings; a tenant without the item has the
// zero settings (the import workflow and the API read the limits this way).
// The contact's tenant is the tenant read, never a stored value.
func (st *Store) TenantSettings(ctx context.Context, tenant string) (tenancy.Settings, error) {
	rec, err := st.SettingsRecord(ctx, tenant)
	return rec.Settings, err
}

// SettingsRecord reads tenant's settings with their version and last
// change; Version is 0 for a tenant without stored settings (or with an
// item written by hand before settings had versions).
func (st *Store) SettingsRecord(ctx context.Context, tenant string) (tenancy.SettingsRecord, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.tables.Control, Key: settingsKey(tenant), ConsistentRead: consistent,
	})
	if err != nil {
		return tenancy.SettingsRecord{}, classify(err, "reading the settings of tenant %s", tenant)
	}
	rec := tenancy.SettingsRecord{Tenant: tenant}
	it := out.Item
	if b, ok := it["largeFiles"].(*ddbtypes.AttributeValueMemberBOOL); ok {
		rec.Settings.LargeFiles = b.Value
	}
	rec.Settings.MaxRows = int(attrInt(it, "maxRows"))
	rec.Settings.MaxBytes = attrInt(it, "maxBytes")
	if l, ok := it["deliveryTargets"].(*ddbtypes.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
				rec.Settings.DeliveryTargets = append(rec.Settings.DeliveryTargets, s.Value)
			}
		}
	}
	if m, ok := it[notificationAttr].(*ddbtypes.AttributeValueMemberM); ok {
		rec.Settings.Notification = notify.Contact{Tenant: tenant, Email: str(m.Value, "email"), Webhook: str(m.Value, "webhook"), SecretRef: str(m.Value, "secretRef")}
	}
	rec.Version = attrInt(it, "version")
	rec.UpdatedBy = attrStr(it, "updatedBy")
	if t, err := time.Parse(time.RFC3339Nano, attrStr(it, "updatedAt")); err == nil {
		rec.UpdatedAt = t
	}
	return rec, nil
}

// PutTenantSettings replaces tenant's settings without a version check or
// an audit record (tests and migrations; operators go through PutSettings).
func (st *Store) PutTenantSettings(ctx context.Context, tenant string, ts tenancy.Settings) error {
	cur, err := st.SettingsRecord(ctx, tenant)
	if err != nil {
		return err
	}
	item := settingsItem(tenant, ts, cur.Version+1, "", time.Time{})
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.tables.Control, Item: item})
	return classify(err, "writing the settings of tenant %s", tenant)
}

// PutSettings replaces tenant's settings on behalf of by at time at, when
// they are still at version ifVersion (a negative ifVersion: whatever
// version they are at). The settings item and the change's audit item
// (who, when, before and after) are written in one transaction. A version
// that does not match, or a change made meanwhile, is a Stale error.
func (st *Store) PutSettings(ctx context.Context, tenant string, ts tenancy.Settings, ifVersion int64, by string, at time.Time) (tenancy.SettingsRecord, tenancy.SettingsChange, error) {
	return st.PutSettingsAndContact(ctx, tenant, ts, nil, ifVersion, by, at)
}

// PutSettingsAndContact is PutSettings that also replaces the tenant's
// notification contact with contact's (nil: keeps it). The audit records
// the contact before and after (address, URL, whether a secret is kept)
// and whether the secret was replaced, never a secret.
func (st *Store) PutSettingsAndContact(ctx context.Context, tenant string, ts tenancy.Settings, contact *tenancy.ContactChange, ifVersion int64, by string, at time.Time) (tenancy.SettingsRecord, tenancy.SettingsChange, error) {
	cur, err := st.SettingsRecord(ctx, tenant)
	if err != nil {
		return tenancy.SettingsRecord{}, tenancy.SettingsChange{}, err
	}
	if ifVersion >= 0 && cur.Version != ifVersion {
		return tenancy.SettingsRecord{}, tenancy.SettingsChange{}, staleSettings(tenant, cur.Version, ifVersion)
	}
	// The contact is kept unless the operator sets it.
	ts.Notification = cur.Settings.Notification
	replaced := false
	if contact != nil {
		ts.Notification, replaced = contact.Contact, contact.SecretReplaced
		ts.Notification.Tenant = tenant
	}
	next := cur.Version + 1
	change := tenancy.SettingsChange{Tenant: tenant, Version: next, By: by, At: at.UTC(), Before: cur.Settings, After: ts, SecretReplaced: replaced}
	before, err1 := json.Marshal(auditView(cur.Settings))
	after, err2 := json.Marshal(auditView(ts))
	if err := errors.Join(err1, err2); err != nil {
		return tenancy.SettingsRecord{}, tenancy.SettingsChange{}, bulkerr.Wrap(bulkerr.Internal, err, "encoding the audit of tenant %s", tenant)
	}
	cond, vals := "attribute_not_exists(version)", map[string]ddbtypes.AttributeValue(nil)
	if cur.Version > 0 {
		cond, vals = "version = :v", map[string]ddbtypes.AttributeValue{":v": n(cur.Version)}
	}
	audit := key("TENANT#"+tenant, auditSK(next))
	audit["version"], audit["by"], audit["at"] = n(next), s(by), s(change.At.Format(time.RFC3339Nano))
	audit["before"], audit["after"] = s(string(before)), s(string(after))
	if replaced {
		audit["secretReplaced"] = &ddbtypes.AttributeValueMemberBOOL{Value: true}
	}
	_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		{Put: &ddbtypes.Put{TableName: &st.tables.Control, Item: settingsItem(tenant, ts, next, by, change.At),
			ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}},
		{Put: &ddbtypes.Put{TableName: &st.tables.Control, Item: audit, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}})
	var tce *ddbtypes.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return tenancy.SettingsRecord{}, tenancy.SettingsChange{}, staleSettings(tenant, -1, cur.Version)
			}
		}
	}
	if err != nil {
		return tenancy.SettingsRecord{}, tenancy.SettingsChange{}, classify(err, "writing the settings of tenant %s", tenant)
	}
	return tenancy.SettingsRecord{Tenant: tenant, Settings: ts, Version: next, UpdatedAt: change.At, UpdatedBy: by}, change, nil
}

func staleSettings(tenant string, cur, asked int64) error {
	if cur < 0 {
		return bulkerr.New(bulkerr.Stale, "the settings of tenant %s changed while version %d was being replaced; read them again and redo your change", tenant, asked)
	}
	return bulkerr.New(bulkerr.Stale, "the settings of tenant %s are at version %d (ETag \"%d\"), not %d: someone changed them; read them again and redo your change", tenant, cur, cur, asked)
}

// SettingsAudit lists the latest changes of tenant's settings, newest
// first, at most limit.
func (st *Store) SettingsAudit(ctx context.Context, tenant string, limit int32) ([]tenancy.SettingsChange, error) {
	out, err := st.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              &st.tables.Control,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :sk)"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":pk": s("TENANT#" + tenant), ":sk": s(settingsAuditSK),
		},
		ScanIndexForward: aws.Bool(false), Limit: aws.Int32(limit), ConsistentRead: consistent,
	})
	if err != nil {
		return nil, classify(err, "reading the settings audit of tenant %s", tenant)
	}
	changes := make([]tenancy.SettingsChange, 0, len(out.Items))
	for _, it := range out.Items {
		c := tenancy.SettingsChange{Tenant: tenant, Version: attrInt(it, "version"), By: attrStr(it, "by")}
		c.At, _ = time.Parse(time.RFC3339Nano, attrStr(it, "at"))
		var b, a auditSettings
		if err := errors.Join(json.Unmarshal([]byte(attrStr(it, "before")), &b), json.Unmarshal([]byte(attrStr(it, "after")), &a)); err != nil {
			return nil, bulkerr.Wrap(bulkerr.Internal, err, "decoding the settings audit of tenant %s", tenant)
		}
		c.Before, c.After = b.settings(tenant), a.settings(tenant)
		if v, ok := it["secretReplaced"].(*ddbtypes.AttributeValueMemberBOOL); ok {
			c.SecretReplaced = v.Value
		}
		changes = append(changes, c)
	}
	return changes, nil
}

func auditSK(version int64) string { return fmt.Sprintf("%s%012d", settingsAuditSK, version) }

func settingsItem(tenant string, ts tenancy.Settings, version int64, by string, at time.Time) map[string]ddbtypes.AttributeValue {
	item := settingsKey(tenant)
	item["largeFiles"] = &ddbtypes.AttributeValueMemberBOOL{Value: ts.LargeFiles}
	item["maxRows"] = n(int64(ts.MaxRows))
	item["maxBytes"] = n(ts.MaxBytes)
	if len(ts.DeliveryTargets) > 0 {
		l := make([]ddbtypes.AttributeValue, len(ts.DeliveryTargets))
		for i, k := range ts.DeliveryTargets {
			l[i] = s(k)
		}
		item["deliveryTargets"] = &ddbtypes.AttributeValueMemberL{Value: l}
	}
	// The notification contact: its address, URL and the secret's
	// reference (never a secret: it stays in Secrets Manager).
	if !ts.Notification.Empty() {
		item[notificationAttr] = contactItem(ts.Notification)
	}
	item["version"] = n(version)
	if by != "" {
		item["updatedBy"], item["updatedAt"] = s(by), s(at.UTC().Format(time.RFC3339Nano))
	}
	return item
}

// auditSettings is how the audit items keep settings (JSON). It holds no
// secret, nor a secret's reference: the contact's address and URL and
// whether a signing secret is kept.
type auditSettings struct {
	LargeFiles      bool          `json:"largeFiles"`
	MaxRows         int           `json:"maxRows"`
	MaxBytes        int64         `json:"maxBytes"`
	DeliveryTargets []string      `json:"deliveryTargets,omitempty"`
	Notification    *auditContact `json:"notification,omitempty"`
}

// auditContact is a notification contact in the audit.
type auditContact struct {
	Email     string `json:"email,omitempty"`
	Webhook   string `json:"webhook,omitempty"`
	SecretSet bool   `json:"secretSet,omitempty"`
}

func auditView(ts tenancy.Settings) auditSettings {
	a := auditSettings{LargeFiles: ts.LargeFiles, MaxRows: ts.MaxRows, MaxBytes: ts.MaxBytes, DeliveryTargets: ts.DeliveryTargets}
	if c := ts.Notification; !c.Empty() {
		a.Notification = &auditContact{Email: c.Email, Webhook: c.Webhook, SecretSet: c.SecretRef != ""}
	}
	return a
}

// settings is the audited settings of tenant; a kept secret reads as its
// name (notify.SecretName), the audit holding no reference.
func (a auditSettings) settings(tenant string) tenancy.Settings {
	ts := tenancy.Settings{LargeFiles: a.LargeFiles, MaxRows: a.MaxRows, MaxBytes: a.MaxBytes, DeliveryTargets: a.DeliveryTargets}
	if c := a.Notification; c != nil {
		ts.Notification = notify.Contact{Tenant: tenant, Email: c.Email, Webhook: c.Webhook}
		if c.SecretSet {
			ts.Notification.SecretRef = notify.SecretName(tenant)
		}
	}
	return ts
}

func attrInt(it map[string]ddbtypes.AttributeValue, k string) int64 {
	if v, ok := it[k].(*ddbtypes.AttributeValueMemberN); ok {
		i, _ := strconv.ParseInt(v.Value, 10, 64)
		return i
	}
	return 0
}

func attrStr(it map[string]ddbtypes.AttributeValue, k string) string {
	if v, ok := it[k].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
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
