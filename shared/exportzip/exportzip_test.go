package exportzip

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvexport"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

type store map[string]catalog.Object

func (s store) GetObjects(_ context.Context, _ string, keys []string) (map[string]catalog.Object, error) {
	out := map[string]catalog.Object{}
	for _, k := range keys {
		if o, ok := s[k]; ok {
			out[k] = o
		}
	}
	return out, nil
}

func workType(i int) catalog.Object {
	name := fmt.Sprintf("Code %06d", i)
	desc := "Generated"
	if i%7 == 0 {
		desc = "=HYPERLINK(\"http://x\")" // must come back exactly
	}
	return catalog.Object{Type: "work-type", Key: objecttype.JoinKey(name), Name: name,
		Fields: map[string]string{"name": name, "description": desc, "type": "IDLE_CODE"}}
}

func TestSplitZipRoundTrips(t *testing.T) {
	wt, _ := objecttype.Lookup("work-type")
	site, _ := objecttype.Lookup("site")
	date := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	w := New(&buf, 5000, date)
	st := store{}
	if err := w.Begin(site, csvexport.NewLayout(site, nil)); err != nil { // no sites: header only
		t.Fatal(err)
	}
	if err := w.Begin(wt, csvexport.NewLayout(wt, nil)); err != nil {
		t.Fatal(err)
	}
	for i := range 12001 {
		o := workType(i)
		st[o.Key] = o
		if err := w.Write(o); err != nil {
			t.Fatal(err)
		}
	}
	files, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := "Site_2026-11-22_001.csv:0 WorkType_2026-11-22_001.csv:5000 WorkType_2026-11-22_002.csv:5000 WorkType_2026-11-22_003.csv:2001"
	var got []string
	for _, f := range files {
		got = append(got, fmt.Sprintf("%s:%d", f.Name, f.Rows))
	}
	if strings.Join(got, " ") != want {
		t.Fatalf("parts %v, want %s", got, want)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	unchanged := 0
	for _, f := range zr.File[1:] {
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		_, err := csvimport.DecideFile(context.Background(), bytes.NewReader(data), int64(len(data)), wt, csvread.Options{Limits: csvread.DefaultLimits()}, st, func(d csvimport.Decision) error {
			if d.Action != csvimport.ActionUnchanged {
				return fmt.Errorf("%s row %d: %s %v", f.Name, d.Row, d.Action, d.Problems)
			}
			unchanged++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "\r\n=HYPERLINK") {
			t.Fatalf("%s: a formula cell is not neutralized", f.Name)
		}
	}
	if unchanged != 12001 {
		t.Fatalf("%d rows re-imported unchanged, want 12001", unchanged)
	}
}

func TestNames(t *testing.T) {
	agent, _ := objecttype.Lookup("agent")
	q, _ := objecttype.Lookup("queue")
	d := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	if got := ZipName("nightly_", []*objecttype.Type{agent}, d); got != "nightly_AgentGAX_2026-01-02.zip" {
		t.Errorf("ZipName = %q", got)
	}
	if got := ZipName("", []*objecttype.Type{agent, q}, d); got != "Export_2026-01-02.zip" {
		t.Errorf("ZipName = %q", got)
	}
	for p, ok := range map[string]bool{"": true, "abc_DEF-123": true, "123456789012345678901": false, "a b": false, "../x": false, "é": false} {
		if err := ValidatePrefix(p); (err == nil) != ok {
			t.Errorf("ValidatePrefix(%q) = %v", p, err)
		}
	}
}

// BenchmarkExport writes 10,000, 100,000 and 1,000,000 generated objects
// to a split ZIP (make bench-export; figures in docs/export-benchmarks.md):
// wall time, objects/s, the ZIP's size, peak heap (HeapAlloc sampled every
// 5 ms, garbage included, so it follows the GC's pacing more than what is
// retained) and live heap (HeapAlloc right after a forced GC at ten
// checkpoints during the run, their time left out of the wall time), both
// above the heap after a GC before the run. The "options" runs go through a
// csvexport.Plan with a filter, chosen fields, header keys and parts split
// by bytes as well as rows. What stays live grows only with the number of
// parts (the ZIP's central directory), not with the rows.
func BenchmarkExport(b *testing.B) {
	wt, _ := objecttype.Lookup("work-type")
	kinds := []struct {
		name string
		opts *exportspec.Options
	}{
		{"default", nil},
		{"options", &exportspec.Options{Fields: []string{"type", "description"}, Header: exportspec.HeaderKeys, SplitBytes: 1 << 20,
			Filters: []exportspec.Filter{{Field: "Type", Op: exportspec.OpEquals, Value: "idle_code"}}}},
	}
	for _, k := range kinds {
		for _, n := range []int{10_000, 100_000, 1_000_000} {
			b.Run(fmt.Sprintf("%s/%d", k.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					runtime.GC()
					var base runtime.MemStats
					runtime.ReadMemStats(&base)
					peak := base.HeapAlloc
					done := make(chan struct{})
					stopped := make(chan struct{})
					go func() {
						defer close(stopped)
						var ms runtime.MemStats
						for {
							select {
							case <-done:
								return
							case <-time.After(5 * time.Millisecond):
								runtime.ReadMemStats(&ms)
								peak = max(peak, ms.HeapAlloc)
							}
						}
					}()
					cw := &countWriter{}
					start := time.Now()
					var w *Writer
					var plan *csvexport.Plan
					if k.opts == nil {
						w = New(cw, 0, time.Now())
						if err := w.Begin(wt, csvexport.NewLayout(wt, nil)); err != nil {
							b.Fatal(err)
						}
					} else {
						var err error
						if plan, err = csvexport.NewPlan(wt, *k.opts); err != nil {
							b.Fatal(err)
						}
						w = ForOptions(cw, *k.opts, time.Now())
						if err := w.Begin(wt, plan.Layout()); err != nil {
							b.Fatal(err)
						}
					}
					rows := 0
					var live uint64
					var paused time.Duration
					for j := range n {
						if (j+1)%(n/10) == 0 {
							p0 := time.Now()
							runtime.GC()
							var ms runtime.MemStats
							runtime.ReadMemStats(&ms)
							live = max(live, ms.HeapAlloc-min(ms.HeapAlloc, base.HeapAlloc))
							paused += time.Since(p0)
						}
						o := workType(j)
						if plan != nil && !plan.Keep(o) {
							continue
						}
						rows++
						if err := w.Write(o); err != nil {
							b.Fatal(err)
						}
					}
					files, err := w.Close()
					el := time.Since(start) - paused
					close(done)
					<-stopped
					if err != nil || (k.opts == nil && len(files) != (n+DefaultMaxRows-1)/DefaultMaxRows) || rows != n {
						b.Fatalf("%d parts, %d rows, %v", len(files), rows, err)
					}
					b.ReportMetric(el.Seconds(), "s/export")
					b.ReportMetric(float64(n)/el.Seconds(), "objects/s")
					b.ReportMetric(float64(len(files)), "parts")
					b.ReportMetric(float64(cw.n)/(1<<20), "zip-MB")
					b.ReportMetric(float64(peak-min(peak, base.HeapAlloc))/(1<<20), "peak-heap-MB")
					b.ReportMetric(float64(live)/(1<<10), "live-heap-KB")
				}
			})
		}
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
