package capacity_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/capacity"
)

// TestDocumentIsGenerated: docs/capacity.md's model section is what the
// model gives for the recorded figures (go run ./cmd/capacity-model -w
// docs/capacity.md regenerates it).
func TestDocumentIsGenerated(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "capacity.md"))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := capacity.Generated(string(raw))
	if !ok {
		t.Fatal("docs/capacity.md lacks the model markers")
	}
	want := "\n\n" + capacity.Report(capacity.Figures, capacity.IncrementalFigures, capacity.DefaultPath, capacity.OtherPaths) + "\n"
	if got != want {
		t.Fatal("docs/capacity.md is stale: run go run ./cmd/capacity-model -w docs/capacity.md")
	}
}

// TestModelBindsWhereExpected: table-driven checks of the model's
// mechanics: which limit binds, and how the bounds move with the inputs.
func TestModelBindsWhereExpected(t *testing.T) {
	m := capacity.Figures
	def := capacity.DefaultPath
	for _, c := range []struct {
		name    string
		p       func() capacity.Params
		binding string
		max     time.Duration
	}{
		{"1M rows, one tenant, new table: the table's initial throughput", func() capacity.Params { return capacity.Scenario(1_000_000, 1, def) },
			"table write throughput (all tenants; new-table or warm throughput, table quota)", 5 * time.Minute},
		{"1M rows, one tenant, warm table: the pipeline or the 16 partitions, near a minute", func() capacity.Params {
			p := capacity.Scenario(1_000_000, 1, def)
			p.Prewarmed = 40_000
			return p
		}, "", 2 * time.Minute},
		{"one shard: the partition", func() capacity.Params {
			p := capacity.Scenario(1_000_000, 1, def)
			p.Shards, p.Prewarmed = 1, 40_000
			return p
		}, "partition writes (per shard, table)", time.Hour},
		{"1,000 tenants of 5,000 rows: the table", func() capacity.Params { return capacity.Scenario(5_000, 1000, def) },
			"table write throughput (all tenants; new-table or warm throughput, table quota)", time.Hour},
		{"the Map's local concurrency of 4, warm table: the pipeline", func() capacity.Params {
			p := capacity.Scenario(1_000_000, 1, def)
			p.MapConcurrency, p.Prewarmed = 4, 40_000
			return p
		}, "chunk pipeline (Map concurrency × chunk time)", time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := capacity.Import(c.p(), m)
			if c.binding == "" && strings.HasPrefix(r.Binding, "table write throughput") || c.binding != "" && r.Binding != c.binding || r.Duration > c.max {
				t.Errorf("%s in %s, want %s within %s", r.Binding, r.Duration, c.binding, c.max)
			}
		})
	}
	// The unsharded layout: one partition key takes 1,000,000 rows in
	// at least 1,000 s (the 17 minutes).
	p := capacity.Scenario(1_000_000, 1, def)
	p.Shards, p.Prewarmed = 1, 40_000
	if r := capacity.Import(p, m); r.Duration < 16*time.Minute {
		t.Errorf("one partition key: %s, want at least 1,000 s", r.Duration)
	}
	// Transactions double the table's write units, so the cost.
	tx := capacity.OtherPaths[0]
	a, b := capacity.Import(capacity.Scenario(1_000_000, 1, def), m), capacity.Import(capacity.Scenario(1_000_000, 1, tx), m)
	if b.Cost.DynamoDBWrites < 1.4*a.Cost.DynamoDBWrites {
		t.Errorf("transactions cost %v for writes, plain writes %v", b.Cost.DynamoDBWrites, a.Cost.DynamoDBWrites)
	}
	// An export of 1,000,000 objects fits in 2 minutes at the measured rate.
	if d, _ := capacity.Export(1_000_000, 400, 16, 1769, m); d > 2*time.Minute {
		t.Errorf("export of 1,000,000 objects: %s", d)
	}
}

// TestCostTargetAndIncrementalReads: the default import of 1,000,000 rows
// costs at most $1 per million rows on on-demand, with only the objects'
// own write units for the rows (no index); the incremental read's units
// follow the per-request 4 KB rounding (table-driven) and reproduce what
// DynamoDB Local reported for the benchmark's Queries within 1%.
func TestCostTargetAndIncrementalReads(t *testing.T) {
	m, def := capacity.Figures, capacity.DefaultPath
	r := capacity.Import(capacity.Scenario(1_000_000, 1, def), m)
	if r.CostPerMillion > 1 {
		t.Errorf("1,000,000 rows cost %s per million, over $1", capacity.Money(r.CostPerMillion))
	}
	rowWRU := 1_000_000.0
	if got := r.Cost.DynamoDBWrites / capacity.PriceWRU.Value; got < rowWRU || got > rowWRU+capacity.ControlWRU(r.Chunks, 0.1, 3)+1 {
		t.Errorf("write units %.0f, want the rows' %.0f plus the bookkeeping's %.0f", got, rowWRU, capacity.ControlWRU(r.Chunks, 0.1, 3))
	}
	for _, c := range []struct {
		objects, bytes int
		want           float64
	}{
		{0, 400, 16},                    // an empty type: one page of nothing a shard, 1 unit each
		{16, 400, 16},                   // one small item a shard
		{16 * 500, 400, 16 * 49},        // one full page a shard: 200,000 bytes, 49 units
		{16 * 501, 400, 16 * 50},        // a full page and one item
		{16 * 500, 4096, 16 * 500},      // 4 KB items: a unit each
		{1_000_000, 400, 16 * 125 * 49}, // 62,500 a shard: 125 full pages
	} {
		if got := capacity.IncrementalReadUnits(c.objects, c.bytes, 16); got != c.want {
			t.Errorf("%d objects of %d bytes: %.0f read units, want %.0f", c.objects, c.bytes, got, c.want)
		}
	}
	im := capacity.IncrementalFigures
	if got := capacity.IncrementalReadUnits(100_000, int(im.ItemBytes), 16); got < 0.99*im.ReadUnits || got > 1.01*im.ReadUnits {
		t.Errorf("the model gives %.0f read units for the benchmark's reads, DynamoDB Local reported %.0f", got, im.ReadUnits)
	}
	// One incremental run over 1,000,000 objects: about a cent, within the
	// export's 2 minutes.
	ir := capacity.Incremental(1_000_000, 400, 16, 1769, im, m)
	if ir.Cost > 0.02 || ir.Duration > 2*time.Minute {
		t.Errorf("incremental run over 1,000,000 objects: %s in %s", capacity.Money(ir.Cost), ir.Duration)
	}
}

// TestModelMatchesTheBenchmarks checks the model's decomposition of a
// chunk (CPU, waves of write requests, the rest) against the measured
// imports it was taken from: with the local benchmark's settings it must
// give BenchmarkImport's wall times at 100,000 and 1,000,000 rows within
// 15%. New figures that break this mean the model no longer describes the
// code.
func TestModelMatchesTheBenchmarks(t *testing.T) {
	m := capacity.Figures
	for _, c := range []struct {
		rows     int
		measured time.Duration
	}{{100_000, m.Import100k}, {1_000_000, m.Import1M}} {
		got := capacity.LocalCheck(c.rows, capacity.DefaultPath, m)
		if off := got.Seconds()/c.measured.Seconds() - 1; off > 0.15 || off < -0.15 {
			t.Errorf("%d rows: the model gives %s, the benchmark took %s (%+.0f%%)", c.rows, got, c.measured, 100*off)
		}
	}
}

// TestControlWRU: the bookkeeping's write units, table-driven: each chunk
// attempt's lock extension and each fence wave is a lock write the leases
// index takes too (2 units), the claim and commit transactions 4 each.
func TestControlWRU(t *testing.T) {
	for _, c := range []struct {
		chunks     int
		retries    float64
		fenceWaves int
		want       float64
	}{
		{1000, 0, 0, 1000*(2+4) + 1000*4 + 20},
		{1000, 0, 3, 1000*(2*4+4) + 1000*4 + 20},
		{1000, 0.1, 3, 1100*(2*4+4) + 1000*4 + 20},
		{1, 0, 1, 2*2 + 4 + 4 + 20},
	} {
		if got := capacity.ControlWRU(c.chunks, c.retries, c.fenceWaves); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("ControlWRU(%d, %v, %d) = %v, want %v", c.chunks, c.retries, c.fenceWaves, got, c.want)
		}
	}
}
