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
	// make bench-import ROWS=5000,100000,1000000 (2026-12-01, run C),
	// BenchmarkImport/100000 with the default path: 1,887 ms of writes a
	// chunk in 10 waves of 4 batches, 304 ms of the rest; 55.4 s in all.
	WriteRequest: 189 * time.Millisecond,
	ChunkOther:   304 * time.Millisecond,
	Import100k:   55387 * time.Millisecond,
	// make bench-export-flow (2026-12-01), 100,000 objects: the slowest of
	// three runs on the sharded layout (19,694, 26,090 and 51,856
	// objects/s, with the machine's load).
	ExportRate: 19_694,
	Source: "`make bench-engine` (2026-11-22), `make bench-import ROWS=5000,100000,1000000` (2026-12-01, run C in " +
		"docs/import-workflow-benchmarks.md) and `make bench-export-flow` (2026-12-01) on the loaded 2-core machine",
}

// DefaultPath and OtherPaths are the write paths with their mean request
// times measured in run C (BenchmarkImportWritePath, write-ms/chunk ÷
// waves: transactions 1,486 ms in 3 waves, single puts 1,932 ms in 63).
var (
	DefaultPath = WritePath{Name: "PartiQL batches", WritesPerRequest: 25, RequestsInFlight: 4, TableWRUPerKB: 1, WriteRequest: 189 * time.Millisecond}
	OtherPaths  = []WritePath{
		{Name: "transactions", WritesPerRequest: 100, RequestsInFlight: 4, TableWRUPerKB: 2, WriteRequest: 495 * time.Millisecond},
		{Name: "one PutItem each", WritesPerRequest: 1, RequestsInFlight: 16, TableWRUPerKB: 1, WriteRequest: 31 * time.Millisecond},
	}
)
