package capacity

import "time"

// Figures are the benchmark results the document's model runs on (see
// Measured for what each is and docs/capacity.md for the runs).
var Figures = Measured{
	CPUPerRow:    15600 * time.Nanosecond, // 1,000,000-row file pass: 64,052 rows/s
	ScanRate:     823_735,
	WriteRequest: 160 * time.Millisecond,
	ChunkOther:   900 * time.Millisecond,
	ExportRate:   26_465,
	Source:       "placeholder",
}

// DefaultPath and OtherPaths are the write paths with their measured mean
// request times (BenchmarkImportWritePath, write-ms/chunk ÷ waves).
var (
	DefaultPath = WritePath{Name: "PartiQL batches (default)", WritesPerRequest: 25, RequestsInFlight: 4, TableWRUPerKB: 1, WriteRequest: 160 * time.Millisecond}
	OtherPaths  = []WritePath{
		{Name: "transactions", WritesPerRequest: 100, RequestsInFlight: 4, TableWRUPerKB: 2, WriteRequest: 500 * time.Millisecond},
		{Name: "one PutItem each", WritesPerRequest: 1, RequestsInFlight: 16, TableWRUPerKB: 1, WriteRequest: 50 * time.Millisecond},
	}
)
