package capacity

import (
	"math"
	"time"
)

// IncrementalMeasured are the incremental export's measured inputs. They
// are kept apart from Figures (figures.go) so that each can be re-measured
// on its own.
type IncrementalMeasured struct {
	// VsExport is how much longer an incremental export of a type takes
	// than a full export of the same objects, measured in one run
	// (BenchmarkExportFlow/100000 and BenchmarkIncrementalExport: 100,000
	// objects, 1,000 of them changed): both read every object the same
	// way; the incremental one writes only the changed ones but filters
	// with consistent reads.
	VsExport float64
	// ItemBytes and ReadUnits check the model's read units: the
	// benchmark's mean item size (as DynamoDB counts it) and the read
	// units DynamoDB Local reported for the incremental read's Queries of
	// its 100,000 objects.
	ItemBytes float64
	ReadUnits float64
	// Source names the run.
	Source string
}

// IncrementalFigures are the measured inputs of the incremental export
// (docs/export-benchmarks.md, "Incremental exports"): in one run on
// 2026-12-02, at a load average of 26 to 36 on the two cores, the full
// export of 100,000 objects took 18.3 s (5,472 objects/s) and two
// incremental ones 23.7 s and 22.4 s (4,212 and 4,467 objects/s of the
// type); the slower gives VsExport. DynamoDB Local reported 6,604 read
// units in every run.
var IncrementalFigures = IncrementalMeasured{
	VsExport:  5_472.0 / 4_212.0,
	ItemBytes: 265,
	ReadUnits: 6_604,
	Source:    "`make bench-export-flow` (2026-12-02, BenchmarkExportFlow/100000 and BenchmarkIncrementalExport in one run) on the loaded 2-core machine",
}

// IncrementalPageItems is dynamostore's Query page (items read a page of
// one shard, before the filter).
const IncrementalPageItems = 500

// IncrementalResult is the model's answer for one incremental export run.
type IncrementalResult struct {
	// ReadUnits are the read units of the run's Queries: every object of
	// the type is read, whatever the window (FilterAfterRead).
	ReadUnits float64
	Cost      float64 // of the reads (USD)
	Duration  time.Duration
	Binding   string
}

// IncrementalReadUnits is what reading every one of objects objects of
// rowBytes bytes over shards shards costs in read units, strongly
// consistent, in pages of IncrementalPageItems: each page's items' sizes
// summed and rounded up to 4 KB (QueryReadBytes), at least one unit a
// page.
func IncrementalReadUnits(objects, rowBytes, shards int) float64 {
	perShard := (objects + shards - 1) / shards
	full, rest := perShard/IncrementalPageItems, perShard%IncrementalPageItems
	page := func(items int) float64 {
		return math.Max(1, math.Ceil(float64(items*rowBytes)/QueryReadBytes.Value))
	}
	units := float64(full) * page(IncrementalPageItems)
	if rest > 0 || full == 0 {
		units += page(rest)
	}
	return units * float64(shards)
}

// Incremental is one incremental export run over a type of objects
// objects: EachUpdated reads every object of the type (the shards in
// parallel, a filter on updatedAt) and the export writes those changed in
// the window. Its time is the full export's of the same objects (Export,
// the measured export rate scaled to the function's CPU) times the
// measured VsExport, or the partitions' read throughput if that is
// slower.
func Incremental(objects, rowBytes, shards, memoryMB int, im IncrementalMeasured, m Measured) IncrementalResult {
	r := IncrementalResult{ReadUnits: IncrementalReadUnits(objects, rowBytes, shards)}
	r.Cost = r.ReadUnits * PriceRRU.Value
	full, _ := Export(objects, rowBytes, shards, memoryMB, m)
	local := time.Duration(float64(full) * im.VsExport)
	partitions := time.Duration(r.ReadUnits / float64(shards) / PartitionReads.Value * float64(time.Second))
	r.Duration, r.Binding = local, "full export's time × measured ratio"
	if partitions > local {
		r.Duration, r.Binding = partitions, "partition reads"
	}
	return r
}

// IndexBreakEven is how many incremental runs over a type of objects
// objects of rowBytes bytes cost as much in read units as an index on
// updatedAt would have cost in write units for rowsWritten rows written
// (one write unit a row per KB): fewer runs than this per rowsWritten rows
// and the filtered read is the cheaper design.
func IndexBreakEven(objects, rowBytes, shards, rowsWritten int) float64 {
	index := float64(rowsWritten) * itemKB(rowBytes) * PriceWRU.Value
	return index / (IncrementalReadUnits(objects, rowBytes, shards) * PriceRRU.Value)
}
