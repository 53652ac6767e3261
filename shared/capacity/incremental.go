package capacity

import (
	"math"
	"time"
)

// IncrementalMeasured are the incremental export's measured inputs. They
// are kept apart from Figures (figures.go) so that each can be re-measured
// on its own.
type IncrementalMeasured struct {
	// ReadRate is the objects of the type an incremental export goes
	// through per second, end to end (every object of the type is read,
	// the changed ones written to the ZIP): BenchmarkIncrementalExport,
	// 100,000 objects of which 1,000 changed, on DynamoDB Local.
	ReadRate float64
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
// (docs/export-benchmarks.md, "Incremental exports").
var IncrementalFigures = IncrementalMeasured{
	ReadRate:  34_316,
	ItemBytes: 267,
	ReadUnits: 6_604,
	Source:    "`make bench-export-flow` (2026-12-02), BenchmarkIncrementalExport, on the loaded 2-core machine",
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
// objects, changed of which were written in the window: EachUpdated reads
// every object of the type (the shards in parallel, a filter on
// updatedAt) and the export writes the changed ones. Its time is the
// larger of the measured local rate over all objects (an upper bound, as
// for imports) and the partitions' read throughput, plus writing the
// changed objects at the export's measured rate scaled to the function's
// CPU.
func Incremental(objects, changed, rowBytes, shards, memoryMB int, im IncrementalMeasured, m Measured) IncrementalResult {
	r := IncrementalResult{ReadUnits: IncrementalReadUnits(objects, rowBytes, shards)}
	r.Cost = r.ReadUnits * PriceRRU.Value
	local := time.Duration(float64(objects) / im.ReadRate * float64(time.Second))
	partitions := time.Duration(r.ReadUnits / float64(shards) / PartitionReads.Value * float64(time.Second))
	r.Duration, r.Binding = local, "reading every object (measured rate)"
	if partitions > local {
		r.Duration, r.Binding = partitions, "partition reads"
	}
	cpuShare := math.Min(1, float64(memoryMB)/LambdaMBPerVCPU.Value)
	r.Duration += time.Duration(float64(changed) / (m.ExportRate * cpuShare) * float64(time.Second))
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
