package importflow_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

// TestOperatorLimits: the limits an operator sets (audited PutSettings, as
// the operator API stores them) are the ones an import reads: with small
// configured ceilings, a file over the default limit fails until the
// operator enables large files, then is imported; the operator's own row
// limit applies under the large ceiling, and a tenant without settings
// keeps the default.
func TestOperatorLimits(t *testing.T) {
	h := newHarness(t, 1000)
	h.flow.Config.Limits = csvread.Limits{MaxRows: 10, MaxBytes: 4 << 10, Raise: "an operator can enable large files"}
	h.flow.Config.LargeLimits = csvread.Limits{MaxRows: 100, MaxBytes: 64 << 10}
	file := func(rows int) []byte {
		var b bytes.Buffer
		b.WriteString("Name,Description,Type\n")
		for i := range rows {
			fmt.Fprintf(&b, "Code %05d,generated,IDLE_CODE\n", i)
		}
		return b.Bytes()
	}
	ctx := context.Background()
	if j := h.run(h.upload("ops", "work-type", "a.csv", file(30), nil), nil); j.Status != jobs.StatusFailed || !strings.Contains(j.Message, "more than 10 data rows") {
		t.Fatalf("before the operator: %s %q, want Failed over 10 rows", j.Status, j.Message)
	}
	if _, _, err := h.db.PutSettings(ctx, "ops", tenancy.Settings{LargeFiles: true, MaxRows: 50}, 0, "ops@provider.example", time.Now()); err != nil {
		t.Fatal(err)
	}
	if j := h.run(h.upload("ops", "work-type", "b.csv", file(30), nil), nil); j.Status != jobs.StatusCompleted || j.Counts.Created != 30 {
		t.Fatalf("after large files: %s %+v %q, want Completed with 30 created", j.Status, j.Counts, j.Message)
	}
	if j := h.run(h.upload("ops", "work-type", "c.csv", file(60), nil), nil); j.Status != jobs.StatusFailed || !strings.Contains(j.Message, "more than 50 data rows") {
		t.Fatalf("over the operator's row limit: %s %q, want Failed over 50 rows", j.Status, j.Message)
	}
	if j := h.run(h.upload("plain", "work-type", "d.csv", file(30), nil), nil); j.Status != jobs.StatusFailed || !strings.Contains(j.Message, "more than 10 data rows") {
		t.Fatalf("a tenant without settings: %s %q, want Failed over 10 rows", j.Status, j.Message)
	}
}
