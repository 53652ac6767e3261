package apiclient

import (
	"context"
	"encoding/json"

	"github.com/ccbulk/bulkops/shared/bulkapi"
)

// Target is a delivery target as the API answered it, with the raw
// document.
type Target struct {
	bulkapi.Target
	Raw json.RawMessage `json:"-"`
}

// TargetPage is one page of GET /v1/targets.
type TargetPage struct {
	bulkapi.TargetPage
	Raw json.RawMessage `json:"-"`
}

// TargetTest is a connection test's answer.
type TargetTest struct {
	bulkapi.TargetTest
	Raw json.RawMessage `json:"-"`
}

func targetPath(id, action string) string { return itemPath("/v1/targets", id, action) }

// TargetsPage returns one page of the tenant's targets.
func (c *Client) TargetsPage(ctx context.Context, cursor string) (TargetPage, error) {
	var p TargetPage
	raw, err := c.Do(ctx, "GET", pagePath("/v1/targets", cursor), nil, &p)
	p.Raw = raw
	return p, err
}

func (c *Client) target(ctx context.Context, method, path string, body any) (Target, error) {
	var t Target
	raw, err := c.Do(ctx, method, path, body, &t)
	t.Raw = raw
	return t, err
}

// Target returns one target.
func (c *Client) Target(ctx context.Context, id string) (Target, error) {
	return c.target(ctx, "GET", targetPath(id, ""), nil)
}

// CreateTarget creates a target; an SFTP target's credential travels in
// b once and is kept in Secrets Manager.
func (c *Client) CreateTarget(ctx context.Context, b bulkapi.TargetRequest) (Target, error) {
	return c.target(ctx, "POST", "/v1/targets", b)
}

// UpdateTarget changes the fields of a target u gives; a credential in u
// replaces the target's (a new version of its secret) and travels once.
func (c *Client) UpdateTarget(ctx context.Context, id string, u bulkapi.TargetUpdate) (Target, error) {
	return c.target(ctx, "PATCH", targetPath(id, ""), u)
}

// DeleteTarget deletes a target and its credential.
func (c *Client) DeleteTarget(ctx context.Context, id string) error {
	_, err := c.Do(ctx, "DELETE", targetPath(id, ""), nil, nil)
	return err
}

// TestTarget runs a target's connection test.
func (c *Client) TestTarget(ctx context.Context, id string) (TargetTest, error) {
	var t TargetTest
	raw, err := c.Do(ctx, "POST", targetPath(id, "test"), nil, &t)
	t.Raw = raw
	return t, err
}
