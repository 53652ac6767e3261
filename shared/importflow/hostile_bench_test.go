package importflow_test

// Hostile-input memory benchmark (make bench-hostile; figures in
// docs/hostile-input-benchmarks.md). Each shape is generated as a stream
// and uploaded to MinIO with the streamed multipart writer (never held in
// memory), then the workflow's own steps run against MinIO and DynamoDB
// Local exactly as the Lambda functions run them: Start, AcquireLock,
// Prepare, every ProcessChunk in order, Finalize. Each step runs with the
// Go memory limit set to its function's MemorySize in template.yaml
// (GOMEMLIMIT: Prepare and chunk 1024 MB, Finalize 512 MB) and reports
//
//	<step>-heap-MB  the largest heap (objects allocated, live or not yet
//	                collected) above the baseline before the step, sampled
//	                every millisecond (for chunks: the largest of all chunks)
//	<step>-rss-MB   the process's peak resident set during the step
//	                (/proc/self/status VmHWM, reset before each step through
//	                /proc/self/clear_refs)
//
// and logs the job's verdict. The 500 MB shape's size is BULKOPS_HOSTILE_MB
// (default 500).

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/csvexport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

// genReader streams head, then body repeated n times, then tail.
type genReader struct {
	parts [][]byte
	n     int
	buf   []byte
}

func gen(head string, body string, n int, tail string) io.Reader {
	return &genReader{parts: [][]byte{[]byte(head), []byte(body), []byte(tail)}, n: n}
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		switch {
		case g.parts[0] != nil:
			g.buf, g.parts[0] = g.parts[0], nil
		case g.n > 0:
			// hand out the body in batches of at least 64 KiB
			k := max(1, min(g.n, (64<<10)/max(1, len(g.parts[1]))))
			g.buf, g.n = bytes.Repeat(g.parts[1], k), g.n-k
		case g.parts[2] != nil:
			g.buf, g.parts[2] = g.parts[2], nil
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// funcReader streams row(i) for i in [0, n) after head.
type funcReader struct {
	head string
	n, i int
	row  func(i int) string
	buf  []byte
}

func (f *funcReader) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if f.head != "" {
			f.buf, f.head = []byte(f.head), ""
			continue
		}
		if f.i >= f.n {
			return 0, io.EOF
		}
		var b strings.Builder
		for ; f.i < f.n && b.Len() < 64<<10; f.i++ {
			b.WriteString(f.row(f.i))
		}
		f.buf = []byte(b.String())
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

type shape struct {
	name, typ string
	large     bool // the tenant has large files (1,000,000 rows / 500 MB)
	body      func() io.Reader
}

func hostileShapes() []shape {
	mb := 500
	if v, err := strconv.Atoi(os.Getenv("BULKOPS_HOSTILE_MB")); err == nil && v > 0 {
		mb = v
	}
	wt := "Name,Description,Type\n"
	// The widest legal row: a GAX agent file with the template's columns
	// and one Skill:<name> column per skill, up to the 2,000-cell bound.
	agent, err := objecttype.Lookup("agent")
	if err != nil {
		panic(err)
	}
	head := csvexport.TemplateLayout(agent).Header()
	example := csvexport.ExampleRow(agent)
	nameAt := slices.Index(head, "User Name")
	for i := len(head); i < csvread.DefaultMaxFields; i++ {
		head = append(head, fmt.Sprintf("Skill:S%04d", i))
		example = append(example, "5")
	}
	csvLine := func(cells []string) string {
		var b strings.Builder
		w := csv.NewWriter(&b)
		_ = w.Write(cells)
		w.Flush()
		return b.String()
	}
	wideHeader := csvLine(head)
	return []shape{
		{"plain-5000-rows", "work-type", false, func() io.Reader {
			return &funcReader{head: wt, n: 5000, row: func(i int) string { return fmt.Sprintf("Code %05d,generated row,IDLE_CODE\n", i) }}
		}},
		{"one-huge-line-20MB", "work-type", true, func() io.Reader { return gen(wt+"A,", "x", 20<<20, ",IDLE_CODE\n") }},
		{"empty-fields-20M", "work-type", true, func() io.Reader { return gen(wt, ",", 20<<20, "\n") }},
		{fmt.Sprintf("newlines-%dMB", mb), "work-type", true, func() io.Reader { return gen(wt, "\n", mb<<20-len(wt), "") }},
		{fmt.Sprintf("over-the-limit-%dMB-plus-1", mb), "work-type", true, func() io.Reader { return gen(wt, "\n", mb<<20-len(wt)+1, "") }},
		{"rejected-1M-rows-long-messages", "work-type", true, func() io.Reader {
			long := "=" + strings.Repeat("SUM(A1:A99)+", 27) // 325 characters: a formula, too long; neutralized in the report
			return &funcReader{head: wt, n: 1_000_000, row: func(i int) string {
				return fmt.Sprintf(",%s,NOT_A_TYPE_%07d\n", long, i)
			}}
		}},
		{"widest-legal-row-2000-cells-5000-rows", "agent", true, func() io.Reader {
			return &funcReader{head: wideHeader, n: 5000, row: func(i int) string {
				row := slices.Clone(example)
				row[nameAt] = fmt.Sprintf("agent%05d", i)
				return csvLine(row)
			}}
		}},
		{"nested-quotes-200-rows-of-1MB", "work-type", true, func() io.Reader {
			cell := "\"" + strings.Repeat("\"\"", (1<<20)/2-64) + "\""
			return &funcReader{head: wt, n: 200, row: func(i int) string { return fmt.Sprintf("Q%03d,%s,IDLE_CODE\n", i, cell) }}
		}},
	}
}

// stepMeter measures one step: peak heap above the baseline and peak RSS.
type stepMeter struct {
	base, peak atomic.Uint64
	stop       chan struct{}
	wg         sync.WaitGroup
}

var heapMetric = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

func heapBytes() uint64 {
	s := append([]metrics.Sample(nil), heapMetric...)
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func resetRSSPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func rssPeakMB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return -1
}

// measure runs fn with the memory limit of a function of memMB and returns
// its peak heap above the baseline and its peak RSS, in MB.
func measure(memMB int64, fn func() error) (heapMB, rssMB float64, err error) {
	runtime.GC()
	prev := debug.SetMemoryLimit(memMB << 20)
	defer debug.SetMemoryLimit(prev)
	m := &stepMeter{stop: make(chan struct{})}
	m.base.Store(heapBytes())
	m.peak.Store(m.base.Load())
	resetRSSPeak()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				if h := heapBytes(); h > m.peak.Load() {
					m.peak.Store(h)
				}
			}
		}
	}()
	err = fn()
	close(m.stop)
	m.wg.Wait()
	if h := heapBytes(); h > m.peak.Load() {
		m.peak.Store(h)
	}
	return float64(m.peak.Load()-m.base.Load()) / (1 << 20), rssPeakMB(), err
}

func BenchmarkHostile(b *testing.B) {
	h := newHarness(b, 1000)
	ctx := context.Background()
	if err := h.db.PutTenantSettings(ctx, "hostile", tenancy.Settings{LargeFiles: true}); err != nil {
		b.Fatal(err)
	}
	defer debug.SetMemoryLimit(math.MaxInt64)
	for n, sh := range hostileShapes() {
		b.Run(sh.name, func(b *testing.B) {
			tenant := "plain"
			if sh.large {
				tenant = "hostile"
			}
			for i := 0; i < b.N; i++ {
				name := fmt.Sprintf("s%02d-%d.csv", n, i)
				key := fmt.Sprintf("imports/%s/%s/%s", tenant, sh.typ, name)
				w := h.files.Create(ctx, key, "text/csv")
				size, err := io.Copy(w, sh.body())
				if err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				info, err := h.files.Head(ctx, key)
				if err != nil {
					b.Fatal(err)
				}
				var ev importflow.ObjectCreated
				ev.ID, ev.Source, ev.DetailType = "bench-"+name, "aws.s3", "Object Created"
				ev.Detail.Bucket.Name, ev.Detail.Object.Key = h.bucket, key
				ev.Detail.Object.VersionID, ev.Detail.Object.Sequencer = info.VersionID, info.VersionID
				b.ResetTimer()
				verdict, figures := runMeasured(b, h, ev)
				b.StopTimer()
				b.ReportMetric(float64(size)/(1<<20), "file-MB")
				for k, v := range figures {
					b.ReportMetric(v, k)
				}
				b.Logf("%s: %.1f MB file: %s", sh.name, float64(size)/(1<<20), verdict)
			}
		})
	}
}

// runMeasured runs the job's steps, each measured, and returns the job's
// verdict (status, counts, message) and the figures.
func runMeasured(b *testing.B, h *harness, ev importflow.ObjectCreated) (string, map[string]float64) {
	ctx := context.Background()
	f := h.flow
	fig := map[string]float64{}
	sr, err := f.Start(ctx, ev)
	if err != nil {
		b.Fatalf("start: %v", err)
	}
	j := sr.Job
	if ls, err := f.AcquireLock(ctx, j, importflow.LockState{}); err != nil || !ls.Acquired {
		b.Fatalf("lock: %+v %v", ls, err)
	}
	defer func() {
		if err := f.Locks.ReleaseLock(ctx, j.Tenant, j.JobID); err != nil {
			b.Fatal(err)
		}
	}()
	var plan importflow.PlanRef
	heap, rss, perr := measure(1024, func() error { var err error; plan, err = f.Prepare(ctx, j); return err })
	fig["prepare-heap-MB"], fig["prepare-rss-MB"] = heap, rss
	if perr != nil {
		if err := f.MarkFailed(ctx, j, &importflow.StateError{Error: "Bulk.Invalid", Cause: fmt.Sprintf(`{"errorMessage":%q}`, perr.Error())}); err != nil {
			b.Fatal(err)
		}
		got, err := h.db.GetJob(ctx, j.Tenant, j.JobID)
		if err != nil {
			b.Fatal(err)
		}
		return fmt.Sprintf("%s at Prepare: %q", got.Status, got.Message), fig
	}
	chunks, err := f.Chunks(ctx, j, plan) // a plan over the Distributed Map threshold lists none
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range chunks {
		heap, rss, err := measure(1024, func() error { _, err := f.ProcessChunk(ctx, j, c); return err })
		if err != nil {
			b.Fatalf("chunk %d: %v", c.Index, err)
		}
		fig["chunk-heap-MB"], fig["chunk-rss-MB"] = max(fig["chunk-heap-MB"], heap), max(fig["chunk-rss-MB"], rss)
	}
	heap, rss, err = measure(512, func() error { _, err := f.Finalize(ctx, j, plan); return err })
	if err != nil {
		b.Fatalf("finalize: %v", err)
	}
	fig["finalize-heap-MB"], fig["finalize-rss-MB"] = heap, rss
	got, err := h.db.GetJob(ctx, j.Tenant, j.JobID)
	if err != nil {
		b.Fatal(err)
	}
	msg := got.Message
	if got.ErrorKey != "" {
		if first := firstErrorRow(b, h, got); first != "" {
			msg = "first error row: " + first
		}
	}
	return fmt.Sprintf("%s %+v in %d chunks; %s", got.Status, countsText(got.Counts), len(chunks), msg), fig
}

func countsText(c jobs.Counts) string {
	return fmt.Sprintf("total=%d created=%d failed=%d", c.Total, c.Created, c.Failed)
}

// firstErrorRow returns the error message of the error CSV's first row
// (read with a ranged GET: the report may be hundreds of MB).
func firstErrorRow(b *testing.B, h *harness, j jobs.Job) string {
	body, err := h.files.OpenRange(context.Background(), j.ErrorKey, "", 0, 64<<10)
	if err != nil {
		b.Fatal(err)
	}
	defer body.Close()
	raw, err := io.ReadAll(body)
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	if len(lines) < 2 {
		return ""
	}
	l := lines[1]
	if len(l) > 300 {
		l = l[:150] + " … " + l[len(l)-150:]
	}
	return l
}
