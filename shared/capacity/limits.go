package capacity

// Cited is a number from AWS's documentation or price list, with the page
// it is on. Prices are US East (N. Virginia), on-demand, arm64 Lambda, S3
// Standard, as listed when this was written; check the page before relying
// on them.
type Cited struct {
	Value float64
	What  string
	URL   string
}

// AWS limits the model checks.
var (
	PartitionWrites = Cited{1000, "write units per second one partition serves (table or index)",
		"https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html"}
	PartitionReads = Cited{3000, "read units per second one partition serves",
		"https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html"}
	OnDemandInitialWrites = Cited{4000, "writes per second a new on-demand table sustains; it then takes up to twice its previous peak at once (more within 30 minutes may throttle)",
		"https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html"}
	TableWriteQuota = Cited{40000, "default table-level write throughput quota (adjustable)",
		"https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"}
	QueryReadBytes = Cited{4096, "bytes of items a strongly consistent Query reads per read unit (summed over the items of one request, rounded up; eventually consistent: half a unit)",
		"https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html"}
	FilterAfterRead = Cited{1, "a Query's filter expression is applied after the items are read: it consumes the same read units with or without a filter",
		"https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.FilterExpression.html"}
	IndexWRU = Cited{1, "write units per KB an index takes for every table write that puts, changes or removes one of its items (the control table's leases index projects ALL, so every lock write is written twice)",
		"https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes"}
	TransactionWRU = Cited{2, "write units per KB of a transactional write (standard writes: 1)",
		"https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html"}
	LambdaConcurrency = Cited{1000, "default concurrent executions per account and Region (adjustable)",
		"https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html"}
	LambdaBurst = Cited{1000, "new execution environments per function every 10 seconds",
		"https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html"}
	LambdaMBPerVCPU = Cited{1769, "MB of function memory that come with one vCPU",
		"https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"}
	HistoryLimit = Cited{25000, "events in one execution's history",
		"https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"}
	PayloadLimit = Cited{256 * 1024, "bytes of a state's input or output (UTF-8)",
		"https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"}
	InlineMapConcurrency = Cited{40, "concurrent iterations of an inline Map",
		"https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html"}
	S3PutPerPrefix = Cited{3500, "PUT/COPY/POST/DELETE requests per second per partitioned prefix (GET/HEAD: 5,500)",
		"https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html"}
)

// Prices (USD per unit).
var (
	PriceWRU = Cited{0.625 / 1e6, "DynamoDB on-demand, per write request unit ($0.625 per million)",
		"https://aws.amazon.com/dynamodb/pricing/on-demand/"}
	PriceRRU = Cited{0.125 / 1e6, "DynamoDB on-demand, per read request unit ($0.125 per million)",
		"https://aws.amazon.com/dynamodb/pricing/on-demand/"}
	PriceWCUHour = Cited{0.00065, "DynamoDB provisioned, per write capacity unit-hour",
		"https://aws.amazon.com/dynamodb/pricing/provisioned/"}
	PriceTransition = Cited{0.025 / 1000, "Step Functions Standard, per state transition ($0.025 per 1,000)",
		"https://aws.amazon.com/step-functions/pricing/"}
	PriceGBSecond = Cited{0.0000133334, "Lambda arm64, per GB-second",
		"https://aws.amazon.com/lambda/pricing/"}
	PriceLambdaRequest = Cited{0.20 / 1e6, "Lambda, per request ($0.20 per million)",
		"https://aws.amazon.com/lambda/pricing/"}
	PriceS3Put = Cited{0.005 / 1000, "S3 Standard, per PUT/COPY/POST/LIST request ($0.005 per 1,000)",
		"https://aws.amazon.com/s3/pricing/"}
	PriceS3Get = Cited{0.0004 / 1000, "S3 Standard, per GET request ($0.0004 per 1,000)",
		"https://aws.amazon.com/s3/pricing/"}
	PriceEvent = Cited{1.0 / 1e6, "EventBridge, per custom event published ($1.00 per million)",
		"https://aws.amazon.com/eventbridge/pricing/"}
)

// Limits and Prices list every cited number, for the document.
func Limits() []Cited {
	return []Cited{PartitionWrites, PartitionReads, QueryReadBytes, FilterAfterRead, OnDemandInitialWrites, TableWriteQuota, TransactionWRU, IndexWRU,
		LambdaConcurrency, LambdaBurst, LambdaMBPerVCPU, HistoryLimit, PayloadLimit, InlineMapConcurrency, S3PutPerPrefix}
}

// Prices lists every cited price.
func Prices() []Cited {
	return []Cited{PriceWRU, PriceRRU, PriceWCUHour, PriceTransition, PriceGBSecond, PriceLambdaRequest, PriceS3Put, PriceS3Get, PriceEvent}
}
