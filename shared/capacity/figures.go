package capacity

import "time"

// Figures are the benchmark results the document's model runs on (see
// Measured for what each is; docs/import-workflow-benchmarks.md and
// docs/export-benchmarks.md have the runs).
var Figures = Measured{
	// make bench-engine (2026-11-22): the 1,000,000-row file pass ran
	// 64,052 rows/s, the scan pass 823,735 rows/s.
	CPUPerRow: 15600 * time.Nanosecond,
	ScanRate:  823_735,
	// make bench-import ROWS=5000,100000,1000000 (2026-12-02, run E, a
	// quiet machine), BenchmarkImport/100000 with the default (fenced
	// BatchWriteItem) path: 528.5 ms of writes a chunk in 3 waves of 16
	// requests, 407.5 ms of the rest; 24.12 s in all (the 1,000,000-row
	// import of the same run: 499.0 and 408.3 ms, 230.2 s).
	WriteRequest: 176 * time.Millisecond,
	ChunkOther:   408 * time.Millisecond,
	Import100k:   24124 * time.Millisecond,
	Import1M:     230195 * time.Millisecond,
	// make bench-export-flow (2026-12-01), 100,000 objects: the slowest of
	// three runs on the sharded layout (19,694, 26,090 and 51,856
	// objects/s, with the machine's load).
	ExportRate: 19_694,
	Source: "`make bench-engine` (2026-11-22), `make bench-import` (2026-12-02, run E in " +
		"docs/import-workflow-benchmarks.md) and `make bench-export-flow` (2026-12-01) on the shared 2-core machine",
}

// DefaultPath and OtherPaths are the write paths with their mean request
// times measured in run E (the default from BenchmarkImport/100000 as
// above; the others from BenchmarkImportWritePath, write-ms/chunk ÷ waves
// of a 1,000-row chunk: transactions 2,175 ms in 3 waves of 4, the PartiQL
// batches 3,065 ms in 10 waves of 4, single puts 2,432 ms in 63 waves of
// 16). BatchWriteItem writes a put at the write units of a plain
// put (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
var (
	DefaultPath = WritePath{Name: "fenced BatchWriteItem", WritesPerRequest: 25, RequestsInFlight: 16, TableWRUPerKB: 1, Fenced: true, WriteRequest: 176 * time.Millisecond}
	OtherPaths  = []WritePath{
		{Name: "transactions", WritesPerRequest: 100, RequestsInFlight: 4, TableWRUPerKB: 2, WriteRequest: 725 * time.Millisecond},
		{Name: "PartiQL batches", WritesPerRequest: 25, RequestsInFlight: 4, TableWRUPerKB: 1, WriteRequest: 307 * time.Millisecond},
		{Name: "one PutItem each", WritesPerRequest: 1, RequestsInFlight: 16, TableWRUPerKB: 1, WriteRequest: 39 * time.Millisecond},
	}
)
