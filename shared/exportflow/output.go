package exportflow

import (
	"context"
	"fmt"

	"github.com/ccbulk/bulkops/shared/csvexport"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// StableKey is where an export with a stable name (exportspec.Options
// StableName) is stored: one key per tenant and file name, which every
// run replaces, as onOffice replaces the file on the tenant's FTP server.
// The bucket's versioning keeps the replaced files as noncurrent versions
// (30 days by the lifecycle rules). A job ID never contains "/", so the
// folder cannot meet a job's own folder exports/<tenant>/<job>/.
func StableKey(tenant, name string) string { return "exports/" + tenant + "/latest/" + name }

// outputKey is where the export of req, job j, is stored: under the job
// (ExportKey), or at the stable key when the options ask for a stable
// name. A limited export (a schedule's test export of a few objects per
// type) always gets its own key: a sample never replaces the full file.
func outputKey(req Request, j jobs.Job) string {
	if req.Options.StableName && req.Limit == 0 {
		return StableKey(req.Tenant, j.FileName)
	}
	return ExportKey(req.Tenant, req.JobID, j.FileName)
}

// checkCSV refuses, before anything is written, a csv export whose one
// type has more rows than one CSV may hold: known is how many objects a
// first pass took (prepared), or, for a plain type, Count says how many
// there are. The writer refuses the row past the limit again, for
// objects written between this count and the write.
func (e *export) checkCSV(ctx context.Context, t *objecttype.Type, p *csvexport.Plan, known int) error {
	n := known
	if e.plain(p) {
		c, err := e.objs.Count(ctx, t.Slug)
		if err != nil {
			return fmt.Errorf("counting the %s objects of a csv export: %w", t.Name, err)
		}
		if e.req.Limit > 0 {
			c = min(c, e.req.Limit)
		}
		n = c
	}
	if n > exportspec.MaxCSVRows {
		return exportspec.CSVRowsError(t.Name, n)
	}
	return nil
}
