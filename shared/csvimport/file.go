package csvimport

import (
	"context"
	"errors"
	"io"
	"sort"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// RejectDuplicates rejects the decisions of rows whose key an earlier row of
// the file has, naming that row; the duplicate problem comes first. ds are
// one chunk's decisions in row order; dups is the plan's list, in row order.
func RejectDuplicates(ds []Decision, dups []csvread.Duplicate) {
	if len(dups) == 0 || len(ds) == 0 {
		return
	}
	// dups is in row order (Scan finds them in order); take the slice that
	// falls in this chunk's rows, so a large file costs O(chunk) per chunk.
	lo, hi := ds[0].Row, ds[len(ds)-1].Row
	from := sort.Search(len(dups), func(i int) bool { return dups[i].Row >= lo })
	to := sort.Search(len(dups), func(i int) bool { return dups[i].Row > hi })
	if from >= to {
		return
	}
	byRow := make(map[int]csvread.Duplicate, to-from)
	for _, d := range dups[from:to] {
		byRow[d.Row] = d
	}
	for i := range ds {
		if dup, ok := byRow[ds[i].Row]; ok {
			ds[i].Action = ActionRejected
			ds[i].Problems = append([]Problem{DuplicateProblem(dup)}, ds[i].Problems...)
		}
	}
}

// DecideFile runs the whole engine over one file of size bytes, the way the
// import workflow does minus storage: Scan plans the chunks, each chunk's
// byte range is read and decided with one batched lookup per type, and
// duplicates are rejected. emit receives every decision in row order; the
// decisions of one chunk are not kept after emit returns, so memory stays
// bounded by the chunk size, not the file size. Tests, fuzzing and the
// engine benchmarks use it.
func DecideFile(ctx context.Context, file io.ReaderAt, size int64, t *objecttype.Type, opts csvread.Options, store ObjectReader, emit func(Decision) error) (csvread.Plan, error) {
	plan, err := csvread.Scan(io.NewSectionReader(file, 0, size), t, opts)
	if err != nil {
		return plan, err
	}
	v, err := NewValidator(t, plan.Header)
	if err != nil {
		return plan, err
	}
	for _, c := range plan.Chunks {
		if c.Start < 0 || c.End > size || c.Start > c.End {
			return plan, bulkerr.New(bulkerr.Internal, "chunk %d: range %d-%d outside the file", c.Index, c.Start, c.End)
		}
		cr := csvread.NewChunkReader(io.NewSectionReader(file, c.Start, c.End-c.Start), plan.Format, c.FirstRow)
		recs := make([]csvread.Record, 0, c.Rows)
		for {
			rec, err := cr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return plan, err
			}
			recs = append(recs, rec)
		}
		if len(recs) != c.Rows {
			return plan, bulkerr.New(bulkerr.Internal, "chunk %d: planned %d rows, read %d", c.Index, c.Rows, len(recs))
		}
		ds, err := v.Decide(ctx, recs, store)
		if err != nil {
			return plan, err
		}
		RejectDuplicates(ds, plan.Duplicates)
		for _, d := range ds {
			if err := emit(d); err != nil {
				return plan, err
			}
		}
	}
	return plan, nil
}
