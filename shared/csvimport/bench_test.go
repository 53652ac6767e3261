package csvimport_test

// Engine benchmarks (make bench-engine; figures in
// docs/import-engine-benchmarks.md). Each size runs four passes over the
// same generated User file held in memory:
//
//	raw      encoding/csv reading every record: the floor any reader pays
//	scan     csvread.Scan: encoding and delimiter sniffing, header binding,
//	         row count, duplicate keys, chunk plan (the Prepare step)
//	validate csvread.ChunkReader + Validator.Decide over every chunk: cell
//	         checks, one batched lookup per referenced type and chunk,
//	         merge and rules (the ProcessChunk step, minus storage)
//	file     DecideFile: scan + validate, the whole engine
//
// Besides MB/s and rows/s, each reports peak-heap-MB: the largest heap
// (live and not yet collected) above the baseline taken before the pass,
// sampled every millisecond. The file is read from disk, so the figure is
// the engine's own memory; flat memory means it does not grow with the file.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvexport"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// mapStore is the tenant's catalog in memory.
type mapStore map[string]map[string]catalog.Object

func (m mapStore) GetObjects(_ context.Context, typ string, keys []string) (map[string]catalog.Object, error) {
	out := make(map[string]catalog.Object, len(keys))
	for _, k := range keys {
		if o, ok := m[typ][k]; ok {
			out[k] = o
		}
	}
	return out, nil
}

// exampleCatalog holds one example object of every type (the objects the
// generated users refer to).
func exampleCatalog(b *testing.B) mapStore {
	st := mapStore{}
	for _, ty := range objecttype.All() {
		var buf bytes.Buffer
		if err := csvexport.WriteTemplate(&buf, ty, true); err != nil {
			b.Fatal(err)
		}
		_, err := csvimport.DecideFile(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), ty, csvread.Options{Limits: csvread.DefaultLimits()}, st, func(d csvimport.Decision) error {
			if d.Action != csvimport.ActionCreated {
				return fmt.Errorf("%s example row: %s %v", ty.Slug, d.Action, d.Problems)
			}
			if st[ty.Slug] == nil {
				st[ty.Slug] = map[string]catalog.Object{}
			}
			o := d.Object
			o.ID = "id-" + o.Key
			st[ty.Slug][o.Key] = o
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return st
}

// userFile writes n User rows to a file in dir: agents with a site, teams,
// profiles and a phone number; one row in 20 has a bad e-mail, one in 50 an
// unknown team. The file is read from disk (the page cache), not held in
// the heap, so the heap figures show the engine's own memory.
func userFile(b *testing.B, dir string, n int) (*os.File, int64) {
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("users-%d.csv", n)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	w := bufio.NewWriter(f)
	w.WriteString("Email,User Profile,Contact Center Enabled,Site,Teams,Skill Profile,Desktop Profile,Multimedia Profile,External Id,Default DN\r\n")
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("agent.%07d@example.com", i)
		if i%20 == 7 {
			email = fmt.Sprintf("agent %d at example", i)
		}
		team := "Tier 1"
		if i%50 == 9 {
			team = "Tier 9"
		}
		fmt.Fprintf(w, "%s,Supervisors,yes,Boston,%s,Spanish Support,Day Shift,Default Multimedia Profile,EXT-%07d,+1 415 555 %04d\r\n", email, team, i, i%10000)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		b.Fatal(err)
	}
	return f, size
}

// peakHeap samples the live heap every millisecond until stopped.
type peakHeap struct {
	base, peak atomic.Uint64
	stop       chan struct{}
	wg         sync.WaitGroup
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

func heapNow() uint64 {
	s := append([]metrics.Sample(nil), heapSample...)
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startPeak() *peakHeap {
	runtime.GC()
	p := &peakHeap{stop: make(chan struct{})}
	p.base.Store(heapNow())
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				if h := heapNow(); h > p.peak.Load() {
					p.peak.Store(h)
				}
			}
		}
	}()
	return p
}

// report stops sampling and reports the peak above the baseline in MB.
func (p *peakHeap) report(b *testing.B) {
	close(p.stop)
	p.wg.Wait()
	peak, base := p.peak.Load(), p.base.Load()
	if peak < base {
		peak = base
	}
	b.ReportMetric(float64(peak-base)/(1<<20), "peak-heap-MB")
}

func BenchmarkEngine(b *testing.B) {
	ty, err := objecttype.Lookup("user")
	if err != nil {
		b.Fatal(err)
	}
	st := exampleCatalog(b)
	ctx := context.Background()
	dir := b.TempDir()
	for _, n := range []int{5_000, 1_000_000} {
		file, size := userFile(b, dir, n)
		whole := func() io.Reader { return io.NewSectionReader(file, 0, size) }
		opts := csvread.Options{Limits: csvread.LargeLimits()}
		plan, err := csvread.Scan(whole(), ty, opts)
		if err != nil {
			b.Fatal(err)
		}
		perOp := func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
		}
		rowsPerSec := func(b *testing.B) {
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		}

		b.Run(fmt.Sprintf("rows=%d/raw", n), func(b *testing.B) {
			perOp(b)
			p := startPeak()
			for i := 0; i < b.N; i++ {
				cr := csv.NewReader(whole())
				cr.ReuseRecord = true
				rows := 0
				for {
					_, err := cr.Read()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					rows++
				}
				if rows != n+1 {
					b.Fatalf("read %d records", rows)
				}
			}
			p.report(b)
			rowsPerSec(b)
		})

		b.Run(fmt.Sprintf("rows=%d/scan", n), func(b *testing.B) {
			perOp(b)
			p := startPeak()
			for i := 0; i < b.N; i++ {
				pl, err := csvread.Scan(whole(), ty, opts)
				if err != nil || pl.Rows != n {
					b.Fatalf("scan: %d rows, %v", pl.Rows, err)
				}
			}
			p.report(b)
			rowsPerSec(b)
		})

		b.Run(fmt.Sprintf("rows=%d/validate", n), func(b *testing.B) {
			perOp(b)
			v, err := csvimport.NewValidator(ty, plan.Header)
			if err != nil {
				b.Fatal(err)
			}
			p := startPeak()
			for i := 0; i < b.N; i++ {
				created, rejected := 0, 0
				recs := make([]csvread.Record, 0, 1000)
				for _, c := range plan.Chunks {
					cr := csvread.NewChunkReader(io.NewSectionReader(file, c.Start, c.End-c.Start), plan.Format, c.FirstRow)
					recs = recs[:0]
					for {
						rec, err := cr.Next()
						if errors.Is(err, io.EOF) {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
						recs = append(recs, rec)
					}
					ds, err := v.Decide(ctx, recs, st)
					if err != nil {
						b.Fatal(err)
					}
					for _, d := range ds {
						if d.Action == csvimport.ActionCreated {
							created++
						} else {
							rejected++
						}
					}
				}
				if want := n/20 + n/50; rejected != want || created+rejected != n {
					b.Fatalf("created %d, rejected %d (want %d)", created, rejected, want)
				}
			}
			p.report(b)
			rowsPerSec(b)
		})

		b.Run(fmt.Sprintf("rows=%d/file", n), func(b *testing.B) {
			perOp(b)
			p := startPeak()
			for i := 0; i < b.N; i++ {
				rows := 0
				_, err := csvimport.DecideFile(ctx, file, size, ty, opts, st, func(csvimport.Decision) error { rows++; return nil })
				if err != nil || rows != n {
					b.Fatalf("%d rows, %v", rows, err)
				}
			}
			p.report(b)
			rowsPerSec(b)
		})
	}
}
