package apiclient

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/ccbulk/bulkops/shared/bulkapi"
)

// Apply is the answer to ApplyJob, with the API's document.
type Apply struct {
	bulkapi.Apply
	Raw json.RawMessage `json:"-"`
}

// ApplyJob applies a dry run's previewed changes (POST
// /v1/jobs/{id}/apply): it starts a real import of the file the dry run
// read. A preview that is too old or whose objects changed since is a
// Problem with status 412; a job that is not a completed dry run, 409.
func (c *Client) ApplyJob(ctx context.Context, id string) (Apply, error) {
	var out Apply
	raw, err := c.Do(ctx, "POST", "/v1/jobs/"+url.PathEscape(id)+"/apply", nil, &out)
	out.Raw = raw
	return out, err
}
