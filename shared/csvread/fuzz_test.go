package csvread

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// FuzzScan: on any input Scan returns a plan or a file error (never a panic,
// never an error without a kind), and a plan's chunks re-read from the raw
// bytes give exactly the planned rows, in increasing row order, with as
// many cells as the header has or fewer/more (the validator rejects those).
func FuzzScan(f *testing.F) {
	seeds := []string{
		"Name,Description,Type\nLunch,Break,IDLE_CODE\n",
		"\xEF\xBB\xBFName;Description;Type\r\nA;\"multi\r\nline\";IDLE_CODE\r\n\r\nB;x;WRAP_UP_CODE\r\n",
		"Name\tType\nA\tIDLE_CODE\nA\tIDLE_CODE\n",
		"Name|Type\n\x89c\x8b\xc6|IDLE_CODE\n",                 // Shift-JIS
		"Name,Description,Type\nM\xfcller,Caf\xe9,IDLE_CODE\n", // Windows-1252
		"\xFF\xFEN\x00a\x00", // UTF-16
		"Name,Type\n\"unterminated,IDLE_CODE\n",
		"Name,Tpye\nA,IDLE_CODE\n",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(3))
	}
	types := objecttype.All()
	f.Fuzz(func(t *testing.T, raw []byte, chunkRows uint8) {
		ty := types[1] // work-type: its header is in most seeds
		plan, err := Scan(bytes.NewReader(raw), ty, Options{Limits: Limits{MaxRows: 200, MaxBytes: 1 << 16}, ChunkRows: int(chunkRows%7) + 1})
		if err != nil {
			if bulkerr.KindOf(err) == bulkerr.Internal {
				t.Fatalf("Scan returned an internal error: %v", err)
			}
			return
		}
		total, last := 0, 1
		for _, c := range plan.Chunks {
			if c.Start < 0 || c.End > int64(len(raw)) || c.Start > c.End {
				t.Fatalf("chunk %d range %d-%d outside %d bytes", c.Index, c.Start, c.End, len(raw))
			}
			cr := NewChunkReader(bytes.NewReader(raw[c.Start:c.End]), plan.Format, c.FirstRow)
			n := 0
			for {
				rec, err := cr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("chunk %d of a planned file fails to read: %v", c.Index, err)
				}
				if rec.Row <= last {
					t.Fatalf("row %d after row %d", rec.Row, last)
				}
				last = rec.Row
				n++
			}
			if n != c.Rows {
				t.Fatalf("chunk %d: planned %d rows, read %d", c.Index, c.Rows, n)
			}
			total += n
		}
		if total != plan.Rows {
			t.Fatalf("chunks hold %d rows, plan says %d", total, plan.Rows)
		}
		// With tight row bounds, a file that still passes has no row
		// wider than the bound; one that fails says why, as a file error.
		tight := Limits{MaxRows: 200, MaxBytes: 1 << 16, MaxFields: 4, MaxRecordBytes: 48}
		tp, err := Scan(bytes.NewReader(raw), ty, Options{Limits: tight, ChunkRows: 3})
		if err != nil {
			if bulkerr.KindOf(err) != bulkerr.Invalid {
				t.Fatalf("tight bounds: %v (kind %s)", err, bulkerr.KindOf(err))
			}
			return
		}
		for _, c := range tp.Chunks {
			cr := NewChunkReader(bytes.NewReader(raw[c.Start:c.End]), tp.Format, c.FirstRow)
			for {
				rec, err := cr.Next()
				if err != nil {
					break
				}
				if len(rec.Cells) > tight.MaxFields {
					t.Fatalf("row %d has %d cells, over the bound of %d that Scan enforced", rec.Row, len(rec.Cells), tight.MaxFields)
				}
			}
		}
	})
}
