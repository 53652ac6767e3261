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
	// make bench-import (2026-12-02, run D, load average 15 to 26),
	// BenchmarkImport/100000 with the default (fenced BatchWriteItem)
	// path: 1,558 ms of writes a chunk in 3 waves of 16 requests, 1,441 ms
	// of the rest; 77.5 s in all.
	WriteRequest: 519 * time.Millisecond,
	ChunkOther:   1441 * time.Millisecond,
	Import100k:   77507 * time.Millisecond,
	// make bench-export-flow (2026-12-01), 100,000 objects: the slowest of
	// three runs on the sharded layout (19,694, 26,090 and 51,856
	// objects/s, with the machine's load).
	ExportRate: 19_694,
	Source: "`make bench-engine` (2026-11-22), `make bench-import` (2026-12-02, run D in " +
		"docs/import-workflow-benchmarks.md) and `make bench-export-flow` (2026-12-01) on the loaded 2-core machine",
}

// DefaultPath and OtherPaths are the write paths with their mean request
// times measured in run D (BenchmarkImportWritePath, write-ms/chunk ÷
// waves of a 1,000-row chunk: transactions 2,661 ms in 3 waves of 4, the
// PartiQL batches 6,464 ms in 10 waves of 4, single puts 6,092 ms in 63
// waves of 16). BatchWriteItem writes a put at the write units of a plain
// put (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
var (
	DefaultPath = WritePath{Name: "fenced BatchWriteItem", WritesPerRequest: 25, RequestsInFlight: 16, TableWRUPerKB: 1, WriteRequest: 519 * time.Millisecond}
	OtherPaths  = []WritePath{
		{Name: "transactions", WritesPerRequest: 100, RequestsInFlight: 4, TableWRUPerKB: 2, WriteRequest: 887 * time.Millisecond},
		{Name: "PartiQL batches", WritesPerRequest: 25, RequestsInFlight: 4, TableWRUPerKB: 1, WriteRequest: 646 * time.Millisecond},
		{Name: "one PutItem each", WritesPerRequest: 1, RequestsInFlight: 16, TableWRUPerKB: 1, WriteRequest: 97 * time.Millisecond},
	}
)
