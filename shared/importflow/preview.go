package importflow

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/audiozip"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// PreviewMaxAge is how long after a dry run ended its changes can be
// applied (POST /v1/jobs/{id}/apply). Past it the stored objects have
// likely moved on and the reviewer should look at a fresh preview.
const PreviewMaxAge = 24 * time.Hour

// maxStaleNamed bounds the keys a refused apply names.
const maxStaleNamed = 10

// CheckPreview tells whether the dry run job preview can still be applied
// as it was previewed: it must be a finished dry run of a CSV type, at most
// PreviewMaxAge old, and no object it would touch (created, updated or
// unchanged rows) may have changed since: every key it would create must
// still be absent and every stored object it read must still be at the
// version it read. The versions are those recorded in the dry run's
// per-chunk decisions, read one chunk at a time, with one batched object
// lookup per chunk, so memory does not grow with the file. A refusal is
// Conflict (not a finished dry run) or Stale (too old, decisions no longer
// stored, or objects changed, naming up to ten of their keys and rows).
//
// The API calls it for fast feedback; the apply job calls it again once it
// holds the tenant lock (Prepare), which is the check that counts.
func (f *Flow) CheckPreview(ctx context.Context, preview jobs.Job) error {
	cp, err := f.checkPreview(ctx, preview, nil)
	if err != nil {
		return err
	}
	return cp.refusal
}

// checkedPreview is what the check found of a preview: why it cannot be
// applied (refusal: Conflict or Stale), or else its plan, its type and the
// chunks it did not decide (failed for good, with their reasons).
type checkedPreview struct {
	refusal error
	plan    storedPlan
	typ     *objecttype.Type
	failed  map[int]string
}

// refused is a check's answer that the preview cannot be applied.
func refused(err error) (checkedPreview, error) { return checkedPreview{refusal: err}, nil }

// checkPreview is CheckPreview keeping the refusal apart from the errors
// of the check itself (storage, a lost lock), which it returns. renew, if
// set, is called before each chunk (the apply job's lease keeper).
func (f *Flow) checkPreview(ctx context.Context, preview jobs.Job, renew func(context.Context) error) (checkedPreview, error) {
	switch {
	case preview.Type != jobs.TypeImport || !preview.DryRun:
		return refused(bulkerr.New(bulkerr.Conflict, "job %s is not a dry run of an import; only a dry run's changes can be applied", preview.ID))
	case audiozip.IsSlug(preview.ObjectType):
		return refused(bulkerr.New(bulkerr.Conflict, "job %s previews audio prompts, which have no change preview; upload the ZIP again without dry run", preview.ID))
	case preview.Status != jobs.StatusCompleted && preview.Status != jobs.StatusCompletedWithErrs:
		return refused(bulkerr.New(bulkerr.Conflict, "dry run %s is %s; only a dry run that completed can be applied", preview.ID, preview.Status))
	case preview.SourceVersion == "":
		return refused(bulkerr.New(bulkerr.Conflict, "dry run %s read an unversioned file; upload it again without dry run", preview.ID))
	}
	if ended := preview.EndedAt; ended == nil || f.Now().Sub(*ended) > PreviewMaxAge {
		return refused(bulkerr.New(bulkerr.Stale, "dry run %s ended more than %.0f hours ago; run the dry run again and apply the fresh preview", preview.ID, PreviewMaxAge.Hours()))
	}
	j := JobRef{Tenant: preview.Tenant, JobID: preview.ID}
	sp, t, err := f.loadPlan(ctx, j)
	if bulkerr.KindOf(err) == bulkerr.NotFound {
		return refused(bulkerr.New(bulkerr.Stale, "the plan of dry run %s is no longer stored; run the dry run again and apply the fresh preview", preview.ID))
	}
	if err != nil {
		return checkedPreview{}, err
	}
	if t == nil {
		return refused(bulkerr.New(bulkerr.Conflict, "job %s previews audio prompts, which have no change preview", preview.ID))
	}
	// Chunks that failed for good in the dry run were not previewed (their
	// rows are NOT_PROCESSED in its error CSV): they are not checked, and
	// the apply does not apply them either.
	failed, err := f.Progress.FailedChunks(ctx, j.Tenant, j.JobID)
	if err != nil {
		return checkedPreview{}, err
	}
	objects := f.Objects(preview.Tenant)
	var stale []string
	count := 0
	for _, c := range sp.Chunks {
		if _, ok := failed[c.Index]; ok {
			continue
		}
		if renew != nil {
			if err := renew(ctx); err != nil {
				return checkedPreview{}, err
			}
		}
		raw, err := f.Files.Get(ctx, decisionsKey(j.Tenant, j.JobID, c.Index))
		if bulkerr.KindOf(err) == bulkerr.NotFound {
			return refused(bulkerr.New(bulkerr.Stale, "the decisions of dry run %s (chunk %d) are no longer stored; run the dry run again and apply the fresh preview", preview.ID, c.Index+1))
		}
		if err != nil {
			return checkedPreview{}, err
		}
		var dec chunkDecisions
		if err := json.Unmarshal(raw, &dec); err != nil {
			return checkedPreview{}, bulkerr.Wrap(bulkerr.Internal, err, "decoding decisions of chunk %d of job %s", c.Index, j.JobID)
		}
		keys := make([]string, 0, len(dec.Rows))
		for _, r := range dec.Rows {
			if r.Action != csvimport.ActionRejected && r.Key != "" {
				keys = append(keys, r.Key)
			}
		}
		if len(keys) == 0 {
			continue
		}
		stored, err := objects.GetObjects(ctx, t.Slug, keys)
		if err != nil {
			return checkedPreview{}, err
		}
		for _, r := range dec.Rows {
			if r.Action == csvimport.ActionRejected || r.Key == "" {
				continue
			}
			o, exists := stored[r.Key]
			var why string
			switch {
			case r.Action == csvimport.ActionCreated && exists:
				why = "was created since"
			case r.Action != csvimport.ActionCreated && !exists:
				why = "was deleted since"
			case r.Action != csvimport.ActionCreated && o.Version != r.Version:
				why = "was changed since"
				if o.JobID != "" {
					why += " (by job " + o.JobID + ")"
				}
			default:
				continue
			}
			count++
			if len(stale) < maxStaleNamed {
				name := r.Key
				if exists && o.Name != "" && !strings.Contains(r.Key, objecttype.KeySep) {
					name = o.Name
				}
				stale = append(stale, fmt.Sprintf("%q (row %d) %s", name, r.Row, why))
			}
		}
	}
	if count > 0 {
		more := ""
		if count > len(stale) {
			more = fmt.Sprintf(" and %d more", count-len(stale))
		}
		return refused(bulkerr.New(bulkerr.Stale, "%d %s objects changed since dry run %s previewed them: %s%s; run the dry run again and apply the fresh preview",
			count, t.Name, preview.ID, strings.Join(stale, ", "), more))
	}
	return checkedPreview{plan: sp, typ: t, failed: failed}, nil
}
