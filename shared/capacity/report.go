package capacity

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// WritePath is one way of writing a chunk's objects, as the model sees it.
type WritePath struct {
	Name             string
	WritesPerRequest int
	RequestsInFlight int
	TableWRUPerKB    float64
	// Fenced tells that each wave of RequestsInFlight requests is licensed
	// by a conditional write to the tenant's lock item (dynamostore's fence).
	Fenced bool
	// WriteRequest is its measured mean request time (Measured.WriteRequest
	// is that of the default path).
	WriteRequest time.Duration
}

// Scenario is the base of every row of the document's tables: a work-type
// sized item, chunks of 1,000, the inline Map's 40 chunks at once, 16
// shards, the chunk function's 1,024 MB, one retry in ten chunks.
func Scenario(rows, tenants int, wp WritePath) Params {
	return Params{Rows: rows, Tenants: tenants, RowBytes: 400, ChunkRows: 1000, MapConcurrency: 40, Shards: 16,
		LambdaMemoryMB: 1024, WritesPerRequest: wp.WritesPerRequest, RequestsInFlight: wp.RequestsInFlight,
		TableWRUPerKB: wp.TableWRUPerKB, Fenced: wp.Fenced, ChunkRetries: 0.1}
}

func dur(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	case d >= 2*time.Minute:
		return fmt.Sprintf("%.1f min", d.Minutes())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func num(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Report is the generated part of docs/capacity.md: the measured inputs,
// the scenarios (5,000 / 100,000 / 1,000,000 rows; 1 and 1,000 tenants)
// with time, binding limit and cost, the write paths compared on AWS, the
// export and the incremental export's reads, and the cited limits and
// prices.
func Report(m Measured, im IncrementalMeasured, def WritePath, others []WritePath) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("### Measured inputs\n\n")
	p("From %s; the incremental export's from %s.\n\n", m.Source, im.Source)
	p("| input | value | from |\n|---|---:|---|\n")
	p("| engine CPU per row (scan, validate, decide) | %.1f µs | `make bench-engine`, 1,000,000 rows, file pass |\n", float64(m.CPUPerRow.Nanoseconds())/1000)
	p("| Prepare's scan rate | %s rows/s | `make bench-engine`, scan pass |\n", num(int(m.ScanRate)))
	p("| one write request of the default path (%s, %d writes) | %d ms | `make bench-import`, BenchmarkImport/100000 `write-ms/chunk` ÷ waves |\n", def.Name, def.WritesPerRequest, m.WriteRequest.Milliseconds())
	p("| a chunk's time outside its writes | %d ms | `make bench-import`, BenchmarkImport/100000 `other-ms/chunk` |\n", m.ChunkOther.Milliseconds())
	p("| export, end to end | %s objects/s | `make bench-export-flow`, 100,000 objects |\n", num(int(m.ExportRate)))
	p("| incremental export's time ÷ a full export's, same objects, one run | %.2f | `make bench-export-flow`, BenchmarkIncrementalExport (1,000 of 100,000 changed) ÷ BenchmarkExportFlow/100000 |\n\n", im.VsExport)
	check, check1M := LocalCheck(100_000, def, m), LocalCheck(1_000_000, def, m)
	off := func(model, measured time.Duration) float64 {
		return 100 * (model.Seconds() - measured.Seconds()) / measured.Seconds()
	}
	p("Check: with the local benchmark's settings (4 chunks at once, the measured CPU, no AWS limit) the model gives %s for 100,000 rows; BenchmarkImport/100000 took %s in the same run (%+.0f%%). For 1,000,000 rows it gives %s; BenchmarkImport/1000000 took %s (%+.0f%%).\n\n",
		dur(check), dur(m.Import100k), off(check, m.Import100k), dur(check1M), dur(m.Import1M), off(check1M, m.Import1M))

	p("### Imports\n\n")
	p("Default write path: %s, Map concurrency 40, 16 shards, 1,024 MB chunk function, 400-byte items, one retry per ten chunks, a new on-demand table. Time is the largest of the bounds; the binding limit is the one that sets it. Cost is one tenant's import.\n\n", def.Name)
	p("| rows | tenants at once | chunks | chunks in flight per tenant | import time, new table | binding limit | import time, table warm to its quota | binding limit | history events | cost per import | per million rows |\n")
	p("|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|\n")
	for _, rows := range []int{5_000, 100_000, 1_000_000} {
		for _, tenants := range []int{1, 1000} {
			sc := Scenario(rows, tenants, def)
			r := Import(sc, m)
			sc.Prewarmed = TableWriteQuota.Value
			w := Import(sc, m)
			p("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", num(rows), num(tenants), num(r.Chunks), r.EffectiveConcurrency,
				dur(r.Duration), r.Binding, dur(w.Duration), w.Binding, num(r.HistoryEvents), Money(r.Cost.Total()), Money(r.CostPerMillion))
		}
	}
	r := Import(Scenario(1_000_000, 1, def), m)
	p("\nEvery bound of 1,000,000 rows, one tenant:\n\n| bound | time |\n|---|---:|\n")
	for _, bd := range r.Bounds {
		p("| %s | %s |\n", bd.Name, dur(bd.Duration))
	}
	p("\nCost of 1,000,000 rows, one tenant, by service:\n\n| service | cost |\n|---|---:|\n")
	c := r.Cost
	for _, x := range []struct {
		n string
		v float64
	}{{"DynamoDB writes (objects; lock, chunk claims and commits, job)", c.DynamoDBWrites}, {"DynamoDB reads (decide, markers, job)", c.DynamoDBReads},
		{"Step Functions transitions", c.StepFunctions}, {"Lambda (GB-seconds, requests)", c.Lambda}, {"S3 requests", c.S3}, {"EventBridge events", c.EventBridge}} {
		p("| %s | %s |\n", x.n, Money(x.v))
	}
	p("| **total** | **%s** |\n", Money(c.Total()))
	prov := ProvisionedPerMillion(r, 0.7)
	p("\nThe same import on a provisioned table whose write capacity is %.0f%% used over the hour (auto scaling's usual target): %s per million rows (writes at the provisioned price, everything else as above).\n", 70.0, Money(prov))

	p("\n### Write paths on AWS\n\n1,000,000 rows, one tenant, each path with its own measured request time:\n\n")
	p("| path | writes a request | in flight per chunk | table write units per row | import time | binding limit | per million rows |\n|---|---:|---:|---:|---:|---|---:|\n")
	for _, wp := range append([]WritePath{def}, others...) {
		mm := m
		mm.WriteRequest = wp.WriteRequest
		r := Import(Scenario(1_000_000, 1, wp), mm)
		p("| %s | %d | %d | %g | %s | %s | %s |\n", wp.Name, wp.WritesPerRequest, wp.RequestsInFlight, wp.TableWRUPerKB, dur(r.Duration), r.Binding, Money(r.CostPerMillion))
	}
	pw := Scenario(1_000_000, 1, others[0])
	pw.Prewarmed = 12_000
	mm := m
	mm.WriteRequest = others[0].WriteRequest
	rw := Import(pw, mm)
	p("\nWith the table pre-warmed to 12,000 write units a second (`WarmThroughput`), %s takes %s (%s).\n", others[0].Name, dur(rw.Duration), rw.Binding)

	p("\n### Exports\n\n| objects | export function | time | binding |\n|---:|---:|---:|---|\n")
	for _, n := range []int{100_000, 1_000_000} {
		for _, mem := range []int{1024, 1769} {
			d, bind := Export(n, 400, 16, mem, m)
			p("| %s | %d MB | %s | %s |\n", num(n), mem, dur(d), bind)
		}
	}

	p("\n### Incremental exports\n\n")
	p("The objects table has no index on `updatedAt`: an incremental (or interval) export reads every object of the type, the 16 shards in parallel, strongly consistent, in pages of %d items a shard, with a filter on `updatedAt`; DynamoDB charges the items read, not the items returned, whatever changed in the window. 400-byte items, export function of 1,769 MB:\n\n", IncrementalPageItems)
	p("| objects of the type | read units a run | cost a run | time | binding |\n|---:|---:|---:|---:|---|\n")
	for _, n := range []int{100_000, 1_000_000} {
		ir := Incremental(n, 400, 16, 1769, im, m)
		p("| %s | %s | %s | %s | %s |\n", num(n), num(int(ir.ReadUnits)), Money(ir.Cost), dur(ir.Duration), ir.Binding)
	}
	run := Incremental(1_000_000, 400, 16, 1769, im, m)
	p("\nCheck: for the benchmark's 100,000 items of %.0f bytes the model gives %s read units; DynamoDB Local reported %s for the same Queries.\n\n",
		im.ItemBytes, num(int(IncrementalReadUnits(100_000, int(math.Round(im.ItemBytes)), 16))), num(int(im.ReadUnits)))
	p("An index on `updatedAt` (the former ByUpdated) would cost a write unit for every object written, %s per million rows, in every import. One run over 1,000,000 objects costs %s, so the filtered read is the cheaper design while a type of 1,000,000 objects has fewer than %s incremental runs per million rows written into it; an hourly schedule over such a type reads %s a month (720 runs).\n",
		Money(1e6*PriceWRU.Value), Money(run.Cost), num(int(IndexBreakEven(1_000_000, 400, 16, 1_000_000))), Money(720*run.Cost))

	p("\n### Inline Map headroom\n\n")
	ch := 1000
	p("1,000,000 rows are %s chunks: %s history events without retries; when nothing outside the Map waits or retries, the limit leaves room for %s chunk retries (%.1f a chunk); every chunk retried to the end of its Retry lists (%d each) would need %s. (`TestInlineMapHeadroomAtOneMillionRows` also counts the worst case outside the Map; below.)\n",
		num(ch), num(HistoryEvents(ch, 0)), num(RetryBudget(ch)), float64(RetryBudget(ch))/float64(ch), MaxChunkRetries, num(HistoryEvents(ch, MaxChunkRetries)))

	p("\n### AWS limits used\n\n| limit | value | source |\n|---|---:|---|\n")
	for _, l := range Limits() {
		p("| %s | %s | <%s> |\n", l.What, num(int(l.Value)), l.URL)
	}
	p("\n### Prices used (US East, N. Virginia)\n\n| price | USD | source |\n|---|---:|---|\n")
	for _, pr := range Prices() {
		p("| %s | %.10g | <%s> |\n", pr.What, pr.Value, pr.URL)
	}
	return b.String()
}

// The markers around the generated part of docs/capacity.md.
const (
	BeginMarker = "<!-- capacity-model: generated by `go run ./cmd/capacity-model -w docs/capacity.md`; do not edit by hand -->"
	EndMarker   = "<!-- capacity-model: end -->"
)

// Splice replaces what lies between the markers in doc with report.
func Splice(doc, report string) (string, error) {
	i, j := strings.Index(doc, BeginMarker), strings.Index(doc, EndMarker)
	if i < 0 || j < i {
		return "", fmt.Errorf("the document lacks the capacity-model markers")
	}
	return doc[:i+len(BeginMarker)] + "\n\n" + report + "\n" + doc[j:], nil
}

// Generated is the part of doc between the markers, as Splice writes it.
func Generated(doc string) (string, bool) {
	i, j := strings.Index(doc, BeginMarker), strings.Index(doc, EndMarker)
	if i < 0 || j < i {
		return "", false
	}
	return doc[i+len(BeginMarker) : j], true
}
