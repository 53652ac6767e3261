// Package capacity is the service's capacity and cost model on AWS: how
// long an import (and an export) of a given size takes, what it costs, and
// which AWS limit binds first, for one tenant or many at once. Its inputs
// are the AWS limits and prices it cites (limits.go) and figures measured
// by this repository's benchmarks (Measured); docs/capacity.md is
// generated from it (cmd/capacity-model) and checked by a test. It imports
// nothing from AWS.
package capacity

import (
	"fmt"
	"math"
	"time"
)

// Measured are the figures the model takes from the benchmarks, with the
// benchmark and run they come from.
type Measured struct {
	// CPUPerRow is the import engine's time per row (scan, validate,
	// decide) on one core: make bench-engine, the 1,000,000-row "file"
	// pass.
	CPUPerRow time.Duration
	// WriteRequest is the mean time of one write request of the chosen
	// path (a batch of WritesPerRequest conditional writes), and
	// ChunkOther a chunk's time outside its writes (ranged GET, reads to
	// decide, error/results parts and decisions file in S3, lock extension,
	// commit): make bench-import, BenchmarkImport/100000 on DynamoDB Local
	// and MinIO. Both are upper bounds for AWS: locally four chunks,
	// DynamoDB Local and MinIO share two loaded cores.
	WriteRequest time.Duration
	ChunkOther   time.Duration
	// ExportRate is the export job's objects per second end to end
	// (read, ZIP, upload): make bench-export-flow, 100,000 objects, same
	// caveat.
	ExportRate float64
	// ScanRate is Prepare's rows per second (scan pass of make
	// bench-engine, 1,000,000 rows).
	ScanRate float64
	// Import100k is BenchmarkImport/100000's wall time in the same run
	// (the model's local check: Map concurrency 4, one core's CPU).
	Import100k time.Duration
	// Import1M is BenchmarkImport/1000000's wall time in the same run (the
	// same check at the largest size: nothing may slow with the file).
	Import1M time.Duration
	// Source names the run(s).
	Source string
}

// LocalCheck is the model's chunk pipeline with the local benchmark's
// settings (4 chunks at once, CPU as measured, no AWS limit): the time
// BenchmarkImport should take for rows rows if the model's decomposition
// of a chunk holds.
func LocalCheck(rows int, wp WritePath, m Measured) time.Duration {
	p := Scenario(rows, 1, wp)
	p.MapConcurrency, p.LambdaMemoryMB, p.ChunkRetries = 4, int(LambdaMBPerVCPU.Value), 0
	r := Import(p, m)
	return r.Bounds[0].Duration - 8*lambdaStep
}

// Params describe one import (or export) scenario.
type Params struct {
	Rows    int // rows of one file, all creates or updates
	Tenants int // tenants importing a file of Rows rows at once
	// RowBytes is the stored item's size (work type ≈ 300 B; at most the
	// largest type's item, ≈ 1.5 KB).
	RowBytes int
	// ChunkRows is BULKOPS_CHUNK_ROWS (1,000).
	ChunkRows int
	// MapConcurrency is the Map's MaxConcurrency (template parameter
	// ChunkConcurrency).
	MapConcurrency int
	// Shards is dynamostore.Shards.
	Shards int
	// LambdaMemoryMB is the chunk function's MemorySize; CPU share scales
	// with it (1,769 MB = one vCPU).
	LambdaMemoryMB int
	// WritesPerRequest and RequestsInFlight describe the write path: 100
	// and 4 per chunk for transactions of 100, 25 and 16 for PartiQL
	// batches, 1 and 16 for single PutItems.
	WritesPerRequest int
	RequestsInFlight int
	// TableWRUPerKB is the table's write units per written KB: 1 for
	// plain and PartiQL writes, 2 for transactional ones.
	TableWRUPerKB float64
	// Fenced: the write path licenses each wave by a lock write (WritePath).
	Fenced bool
	// ChunkRetries is the mean retries per chunk (history and cost).
	ChunkRetries float64
	// Prewarmed, if set, is the table's warm write throughput (WRU/s);
	// 0 means a new on-demand table (limits.go: OnDemandInitialWrites).
	Prewarmed float64
}

// Bound is one limit's lower bound on the duration.
type Bound struct {
	Name     string
	Duration time.Duration
}

// Cost is what one import of Params.Rows rows costs, by service (USD).
type Cost struct {
	DynamoDBWrites, DynamoDBReads, StepFunctions, Lambda, S3, EventBridge float64
}

// Total is the sum.
func (c Cost) Total() float64 {
	return c.DynamoDBWrites + c.DynamoDBReads + c.StepFunctions + c.Lambda + c.S3 + c.EventBridge
}

// Result is the model's answer for one scenario.
type Result struct {
	Params Params
	// Chunks and EffectiveConcurrency (chunks of one tenant in flight).
	Chunks               int
	EffectiveConcurrency int
	ChunkTime            time.Duration
	// Duration is the import's wall time: the largest bound; Binding
	// names it.
	Duration time.Duration
	Binding  string
	Bounds   []Bound
	// Cost of one tenant's import, and per million rows.
	Cost           Cost
	CostPerMillion float64
	// HistoryEvents is the import execution's history length, Payload the
	// largest state document (bytes); both with ChunkRetries counted.
	HistoryEvents int
}

// chunksOf is how many chunks a file of rows rows is planned in.
func chunksOf(p Params) int { return (p.Rows + p.ChunkRows - 1) / p.ChunkRows }

// itemKB is the billable write size of one item (whole KB, at least 1).
func itemKB(bytes int) float64 { return math.Max(1, math.Ceil(float64(bytes)/1024)) }

// Import runs the model for one import scenario.
func Import(p Params, m Measured) Result {
	r := Result{Params: p, Chunks: chunksOf(p)}
	// Chunks of one tenant in flight: the Map's concurrency, the inline
	// Map's ceiling, and the tenant's share of the account's Lambda
	// concurrency.
	conc := min(p.MapConcurrency, int(InlineMapConcurrency.Value))
	if share := int(LambdaConcurrency.Value) / max(p.Tenants, 1); share < conc {
		conc = max(share, 1)
	}
	r.EffectiveConcurrency = conc
	// One chunk: CPU scaled to the function's vCPU share, its writes in
	// waves of RequestsInFlight, and the rest as measured.
	cpuShare := math.Min(1, float64(p.LambdaMemoryMB)/LambdaMBPerVCPU.Value)
	cpu := time.Duration(float64(m.CPUPerRow) * float64(p.ChunkRows) / cpuShare)
	requests := (p.ChunkRows + p.WritesPerRequest - 1) / p.WritesPerRequest
	waves := (requests + p.RequestsInFlight - 1) / p.RequestsInFlight
	r.ChunkTime = cpu + time.Duration(waves)*m.WriteRequest + m.ChunkOther
	waveCount := (r.Chunks + conc - 1) / conc
	prepare := time.Duration(float64(p.Rows) / (m.ScanRate * cpuShare) * float64(time.Second))
	steps := 8 * lambdaStep // start, lock, prepare, finalize, release and their transitions
	pipeline := time.Duration(float64(waveCount)*(1+p.ChunkRetries/float64(max(r.Chunks, 1))))*r.ChunkTime + prepare + steps

	// The objects table has no secondary index (incremental exports
	// filter the shards instead: Incremental), so a row written is its
	// table write units only.
	kb := itemKB(p.RowBytes)
	tableWRU := float64(p.Rows) * kb * p.TableWRUPerKB
	allTableWRU := tableWRU * float64(p.Tenants)
	perSecond := func(units, rate float64) time.Duration {
		return time.Duration(units / rate * float64(time.Second))
	}
	warm := OnDemandInitialWrites.Value
	if p.Prewarmed > 0 {
		warm = p.Prewarmed
	}
	// The tenant's lock item is one key: every chunk attempt extends it
	// and, on the fenced path, every wave of writes updates it. Each of
	// those is a write of the lock's partition, and of the leases index's.
	lockWrites := float64(r.Chunks) * (1 + p.ChunkRetries) // chunk attempts
	if p.Fenced {
		lockWrites *= float64(1 + waves)
	}
	r.Bounds = []Bound{
		{"chunk pipeline (Map concurrency × chunk time)", pipeline},
		{"lock item writes (one key: lease extensions and fence checks)", perSecond(lockWrites, PartitionWrites.Value)},
		{"partition writes (per shard, table)", perSecond(tableWRU/float64(p.Shards), PartitionWrites.Value)},
		{"table write throughput (all tenants; new-table or warm throughput, table quota)", perSecond(allTableWRU, math.Min(warm, TableWriteQuota.Value))},
		{"Lambda burst (new environments, all tenants)", time.Duration(float64(min(conc*p.Tenants, int(LambdaConcurrency.Value)))/LambdaBurst.Value*float64(10*time.Second)) + r.ChunkTime},
		{"S3 PUT rate (per job prefix)", perSecond(3*float64(r.Chunks), S3PutPerPrefix.Value)},
	}
	for _, b := range r.Bounds {
		if b.Duration > r.Duration {
			r.Duration, r.Binding = b.Duration, b.Name
		}
	}
	r.HistoryEvents = HistoryEvents(r.Chunks, p.ChunkRetries)

	// Cost of one tenant's import.
	chunks := float64(r.Chunks)
	attempts := chunks + p.ChunkRetries*chunks
	fenceWaves := 0
	if p.Fenced {
		fenceWaves = waves
	}
	r.Cost.DynamoDBWrites = (tableWRU + ControlWRU(r.Chunks, p.ChunkRetries, fenceWaves)) * PriceWRU.Value
	// Reads: every row's current object (a consistent BatchGetItem, one
	// read unit per item up to 4 KB), each attempt's consistent GetItem of
	// its chunk marker (the done check), Finalize's consistent Query of
	// the markers (about 150 bytes each) and a few job reads.
	readRRU := float64(p.Rows)*math.Max(1, math.Ceil(float64(p.RowBytes)/4096)) + attempts +
		math.Ceil(chunks*markerBytes/4096) + 10
	r.Cost.DynamoDBReads = readRRU * PriceRRU.Value
	transitions := 12 + attempts*1 + chunks // fixed states; each chunk attempt's task; each iteration
	r.Cost.StepFunctions = transitions * PriceTransition.Value
	gbs := float64(p.LambdaMemoryMB) / 1024 * (attempts*r.ChunkTime.Seconds() + prepare.Seconds() + steps.Seconds())
	r.Cost.Lambda = gbs*PriceGBSecond.Value + (attempts+6)*PriceLambdaRequest.Value
	puts := attempts*3 + 6            // decisions, results part, error part; plan, reports
	gets := attempts*3 + chunks*2 + 4 // ranged GET, plan, decisions; Finalize reads the parts
	r.Cost.S3 = puts*PriceS3Put.Value + gets*PriceS3Get.Value
	r.Cost.EventBridge = 3 * PriceEvent.Value // New, In Progress, final status
	r.CostPerMillion = r.Cost.Total() / float64(p.Rows) * 1e6
	return r
}

// markerBytes is about the size of one chunk's marker in the control
// table (key, counts, expiry).
const markerBytes = 150

// ControlWRU is the write units of an import's bookkeeping, as
// shared/importflow and shared/dynamostore write it: every chunk attempt
// extends the tenant lock (an UpdateItem of the lock item, which the
// control table's leases index holds too: 1 + IndexWRU), licenses each of
// its fenceWaves waves of writes with one more such update (the fenced
// path; 0 waves for the others), and claims the chunk's writes
// (ClaimChunkWrites: a transaction of the job's condition check and the
// claim marker, counted as two transactional writes of under 1 KB, 2 each;
// AWS may charge the check as a read, so this is an upper bound); every
// chunk commits once (CommitChunk: a transaction of the chunk marker and
// the job's counts, 2 each; a retried chunk that finds its marker writes
// nothing more); and about 20 writes of the job and the lock outside the
// chunks (StartJob, AcquireLock, Prepare, Finalize, ReleaseLock, their
// lease extensions). Lease renewals inside a chunk are left out: they
// happen once a third of the 300 s lease has passed, and a chunk takes
// seconds.
func ControlWRU(chunks int, retries float64, fenceWaves int) float64 {
	c := float64(chunks)
	attempts := c + retries*c
	lockWrite := 1 + IndexWRU.Value
	return attempts*(lockWrite*float64(1+fenceWaves)+2*TransactionWRU.Value) + c*2*TransactionWRU.Value + 20
}

// lambdaStep is the wall time allowed for one non-chunk step (Start, the
// lock, Finalize's merge of small parts) and its state transitions.
const lambdaStep = 500 * time.Millisecond

// Events of the import state machine's history (statemachines/
// import.asl.json, AWS's history event types; headroom_test.go reads them
// off the ASL): on the happy path outside the Map, the execution's start
// and end, five Lambda tasks (StartJob, AcquireLock, Prepare, Finalize,
// ReleaseLock: entered, scheduled, started, succeeded, exited), three
// Choices (IsDuplicate, LockAcquired, ChooseMap) and the Succeed state (entered, exited) and the Map's own four
// (entered, started, succeeded, exited); per chunk the Map iteration's
// started and succeeded plus the task's five; every retry adds a failed
// attempt's three (scheduled, started, failed or timed out).
const (
	FixedHistoryEvents = 2 + 5*5 + 4*2 + 4
	EventsPerChunk     = 7
	EventsPerRetry     = 3
	// MaxChunkRetries is the most retries the ASL allows one chunk: the
	// transient list's MaxAttempts 5 and the timeout list's 1.
	MaxChunkRetries = 6
)

// HistoryEvents is the history length of an import of chunks chunks with
// retries retries per chunk on average.
func HistoryEvents(chunks int, retries float64) int {
	return FixedHistoryEvents + chunks*EventsPerChunk + int(math.Ceil(float64(chunks)*retries))*EventsPerRetry
}

// RetryBudget is how many chunk retries in all an import of chunks chunks
// can take before its history reaches Step Functions' limit.
func RetryBudget(chunks int) int {
	return (int(HistoryLimit.Value) - FixedHistoryEvents - chunks*EventsPerChunk) / EventsPerRetry
}

// Export is the export model: the time to export rows objects of one type
// (reads of the shards in parallel, ZIP, upload), bound by the measured
// end-to-end rate scaled to the export function's CPU and by the
// partitions' read throughput.
func Export(rows, rowBytes, shards, memoryMB int, m Measured) (time.Duration, string) {
	cpuShare := math.Min(1, float64(memoryMB)/LambdaMBPerVCPU.Value)
	cpu := time.Duration(float64(rows) / (m.ExportRate * cpuShare) * float64(time.Second))
	// Eventually consistent Query: half a read unit per 4 KB read.
	rru := float64(rows) * float64(rowBytes) / 4096 / 2
	read := time.Duration(rru / float64(shards) / PartitionReads.Value * float64(time.Second))
	if read > cpu {
		return read, "partition reads"
	}
	return cpu, "export function CPU (measured rate)"
}

// Money formats dollars for the tables.
func Money(v float64) string {
	switch {
	case v >= 1:
		return fmt.Sprintf("$%.2f", v)
	case v >= 0.01:
		return fmt.Sprintf("$%.3f", v)
	}
	return fmt.Sprintf("$%.5f", v)
}

// ProvisionedPerMillion is r's cost per million rows when the table's
// writes are bought as provisioned capacity used at utilization (0 to 1)
// instead of on-demand request units.
func ProvisionedPerMillion(r Result, utilization float64) float64 {
	wru := r.Cost.DynamoDBWrites / PriceWRU.Value
	writes := wru * PriceWCUHour.Value / 3600 / utilization
	return (r.Cost.Total() - r.Cost.DynamoDBWrites + writes) / float64(r.Params.Rows) * 1e6
}
