package apiclient

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/ccbulk/bulkops/shared/bulkapi"
)

// TenantSettings is a tenant's settings as an operator reads them, with
// the document as the API sent it.
type TenantSettings struct {
	bulkapi.TenantSettings
	Raw []byte `json:"-"`
}

func operatorSettingsPath(tenant, rest string) string {
	return "/v1/operator/tenants/" + url.PathEscape(tenant) + "/settings" + rest
}

// TenantSettings reads a tenant's settings (an operator's token).
func (c *Client) TenantSettings(ctx context.Context, tenant string) (TenantSettings, error) {
	var s TenantSettings
	raw, err := c.Do(ctx, "GET", operatorSettingsPath(tenant, ""), nil, &s)
	s.Raw = raw
	return s, err
}

// PutTenantSettings replaces a tenant's settings if they are still at
// version (the one read; 412 when someone changed them meanwhile).
func (c *Client) PutTenantSettings(ctx context.Context, tenant string, version int64, b bulkapi.SettingsBody) (TenantSettings, error) {
	if version < 0 {
		return TenantSettings{}, fmt.Errorf("setting the settings of tenant %s needs the version they were read at", tenant)
	}
	var s TenantSettings
	raw, err := c.DoWithHeaders(ctx, "PUT", operatorSettingsPath(tenant, ""), map[string]string{"If-Match": strconv.Quote(strconv.FormatInt(version, 10))}, b, &s)
	s.Raw = raw
	return s, err
}

// SettingsAudit lists the latest changes of a tenant's settings.
func (c *Client) SettingsAudit(ctx context.Context, tenant string, limit int) (bulkapi.SettingsChanges, []byte, error) {
	var out bulkapi.SettingsChanges
	raw, err := c.Do(ctx, "GET", operatorSettingsPath(tenant, "/audit?limit="+strconv.Itoa(limit)), nil, &out)
	return out, raw, err
}

// OwnSettings reads the caller's tenant's effective settings.
func (c *Client) OwnSettings(ctx context.Context) (bulkapi.EffectiveSettings, []byte, error) {
	var out bulkapi.EffectiveSettings
	raw, err := c.Do(ctx, "GET", "/v1/settings", nil, &out)
	return out, raw, err
}
