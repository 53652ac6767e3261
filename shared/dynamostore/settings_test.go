package dynamostore_test

import (
	"context"
	"testing"

	"github.com/ccbulk/bulkops/shared/notify"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

// TestNotificationContactSetting: the contact is kept with the tenant's
// settings; setting it leaves the operator's settings alone, an empty one
// removes it, and each tenant reads only its own (the contact's tenant is
// the tenant read).
func TestNotificationContactSetting(t *testing.T) {
	db, _ := newStore(t)
	ctx := context.Background()
	if err := db.PutTenantSettings(ctx, "acme", tenancy.Settings{LargeFiles: true}); err != nil {
		t.Fatal(err)
	}
	acme := notify.Contact{Tenant: "acme", Email: "ops@acme.example", Webhook: "https://hooks.acme.example/x", SecretRef: notify.SecretName("acme")}
	if err := db.SetNotificationContact(ctx, "acme", acme); err != nil {
		t.Fatal(err)
	}
	if err := db.SetNotificationContact(ctx, "globex", notify.Contact{Tenant: "globex", Email: "it@globex.example"}); err != nil {
		t.Fatal(err)
	}
	ts, err := db.TenantSettings(ctx, "acme")
	if err != nil || !ts.LargeFiles || ts.Notification != acme {
		t.Fatalf("acme's settings %+v %v", ts, err)
	}
	ts, err = db.TenantSettings(ctx, "globex")
	if err != nil || ts.LargeFiles || ts.Notification != (notify.Contact{Tenant: "globex", Email: "it@globex.example"}) {
		t.Fatalf("globex's settings %+v %v", ts, err)
	}
	// PutTenantSettings (the operator's whole item) keeps a contact it is given.
	if err := db.PutTenantSettings(ctx, "acme", tenancy.Settings{LargeFiles: false, Notification: acme}); err != nil {
		t.Fatal(err)
	}
	if ts, err = db.TenantSettings(ctx, "acme"); err != nil || ts.LargeFiles || ts.Notification != acme {
		t.Fatalf("after PutTenantSettings %+v %v", ts, err)
	}
	if err := db.SetNotificationContact(ctx, "acme", notify.Contact{Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	if ts, err = db.TenantSettings(ctx, "acme"); err != nil || !ts.Notification.Empty() {
		t.Fatalf("after removing %+v %v", ts, err)
	}
}
