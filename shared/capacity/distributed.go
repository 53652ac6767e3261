package capacity

// The Distributed Map (statemachines/import.asl.json,
// ProcessChunksDistributed): a plan of more chunks than
// BULKOPS_DISTRIBUTED_MAP_CHUNKS (40) runs each chunk as a child execution
// of its own, reading the chunk list from S3 (ItemReader) and writing the
// children's results to S3 (ResultWriter). Its limits, each cited:
var (
	DistributedMapConcurrency = Cited{10000, "parallel child workflow executions of one Distributed Map (its MaxConcurrency at most; the default when unset)",
		"https://docs.aws.amazon.com/step-functions/latest/dg/concepts-map-process-modes.html"}
	ChildHistoryLimit = Cited{25000, "events in each child execution's history: a child has its own history, separate from the parent's, under the per-execution limit",
		"https://docs.aws.amazon.com/step-functions/latest/dg/concepts-map-process-modes.html"}
	ChildInputLimit = Cited{256 * 1024, "bytes of one item read by the ItemReader: each item (after ItemSelector) is a child execution's input, under the payload limit",
		"https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"}
	OpenMapRuns = Cited{1000, "open Map Runs per account and Region (one per running distributed import; more wait or fail)",
		"https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"}
	StartExecutionRefill = Cited{300, "StartExecution tokens refilled per second for Standard workflows in us-east-1 (bucket 1,300); assumed here to pace the children a Map Run starts",
		"https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"}
)

// DistributedLimits lists the Distributed Map's cited limits, for the
// document.
func DistributedLimits() []Cited {
	return []Cited{DistributedMapConcurrency, ChildHistoryLimit, ChildInputLimit, OpenMapRuns, StartExecutionRefill}
}

// History events of the distributed path (headroom_test.go reads them off
// the ASL).
const (
	// DistributedParentEvents is the parent's whole happy-path history on
	// the distributed path: the same states as the inline path outside
	// the Map, and the Distributed Map's own four (entered, Map Run
	// started, Map Run succeeded, exited), whatever the number of chunks.
	DistributedParentEvents = FixedHistoryEvents
	// ChildEvents is one child execution's history on success: execution
	// started and succeeded, the chunk task's five.
	ChildEvents = 7
)

// DistributedConcurrency is the chunks a distributed import processes at
// once: the plan's MaxConcurrency (BULKOPS_DISTRIBUTED_MAP_CONCURRENCY,
// template parameter DistributedMapConcurrency) up to the Distributed
// Map's limit, and never more than the chunks.
func DistributedConcurrency(maxConcurrency, chunks int) int {
	return max(1, min(maxConcurrency, int(DistributedMapConcurrency.Value), chunks))
}

// ChildHistoryEvents is the history of one child execution whose chunk
// task is retried retries times (each a failed attempt's three events).
func ChildHistoryEvents(retries int) int {
	return ChildEvents + retries*EventsPerRetry
}
