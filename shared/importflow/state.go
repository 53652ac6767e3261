// Package importflow implements the steps of the import state machine
// (statemachines/import.asl.json): start, acquireLock, prepare, chunk,
// finalize, releaseLock and markFailed. Each step is a method taking and
// returning the JSON documents the state machine passes around; the Lambda
// functions in functions/import-* only wire them up.
//
// Files in the bucket, per job:
//
//	imports/<tenant>/<type>/<file>            the upload (any version)
//	results/<tenant>/<job>/plan.json          the chunk plan and file format
//	results/<tenant>/<job>/chunks.json        the Distributed Map's items (large plans)
//	results/<tenant>/<job>/map/<run>/...      the Distributed Map's ResultWriter output
//	results/<tenant>/<job>/chunks/<n>.json    decisions of chunk n (idempotency)
//	results/<tenant>/<job>/parts/errors-<n>.csv, results-<n>.csv, changes-<n>.csv
//	results/<tenant>/<job>/errors.csv         merged error report
//	results/<tenant>/<job>/results.csv        merged results report
//	results/<tenant>/<job>/changes.csv        merged change report (dry runs)
package importflow

import (
	"fmt"
	"time"
)

// JobRef identifies the job and its file; it travels through every state.
type JobRef struct {
	Tenant     string `json:"tenant"`
	JobID      string `json:"jobId"`
	Bucket     string `json:"bucket"`
	Key        string `json:"key"`
	VersionID  string `json:"versionId,omitempty"`
	ObjectType string `json:"objectType"`
	FileName   string `json:"fileName"`
	DryRun     bool   `json:"dryRun"`
	// ApplyOf is the dry run whose previewed decisions this job applies
	// (from the API's grant only): Prepare re-checks the preview under the
	// tenant lock and the chunks adopt its decisions instead of deciding.
	ApplyOf string `json:"applyOf,omitempty"`
}

// LockState is the acquireLock loop's state.
type LockState struct {
	Acquired    bool   `json:"acquired"`
	Attempt     int    `json:"attempt"`
	WaitSeconds int    `json:"waitSeconds"`
	Holder      string `json:"holder,omitempty"`
}

// ChunkRef is one Map item: a byte range of whole rows.
type ChunkRef struct {
	Index    int   `json:"index"`
	Start    int64 `json:"start"`
	End      int64 `json:"end"`
	FirstRow int   `json:"firstRow"`
	Rows     int   `json:"rows"`
}

// PlanRef is prepare's output: small enough for the state document; the
// full plan is in S3. A plan of at most Config.DistributedChunks chunks
// lists them (the inline Map's items); a larger one is Distributed: its
// chunks are a JSON array at Bucket/ChunksKey (the Distributed Map's
// ItemReader) and Chunks is empty, so the state document stays small
// whatever the file's size.
type PlanRef struct {
	Rows   int        `json:"rows"`
	Chunks []ChunkRef `json:"chunks"`
	// MaxConcurrency bounds the chunks processed at once (the Map state's
	// MaxConcurrencyPath); Config.ChunkConcurrency, or for a distributed
	// plan Config.DistributedConcurrency.
	MaxConcurrency int `json:"maxConcurrency"`
	// Distributed selects the Distributed Map (the state machine's
	// Choice after Prepare).
	Distributed bool `json:"distributed"`
	// ChunkCount is the number of chunks, listed or not.
	ChunkCount int `json:"chunkCount"`
	// Bucket, ChunksKey and ResultsPrefix are set on a distributed plan:
	// where its ItemReader reads the chunks and its ResultWriter writes
	// the child executions' results.
	Bucket        string `json:"bucket,omitempty"`
	ChunksKey     string `json:"chunksKey,omitempty"`
	ResultsPrefix string `json:"resultsPrefix,omitempty"`
}

// StateError is what a Catch clause puts at $.error.
type StateError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Request is the input of every step; Step selects the step and the other
// fields are those the step reads.
type Request struct {
	Step  string         `json:"step"`
	Event *ObjectCreated `json:"event,omitempty"`
	// Execution is the Step Functions execution running the import
	// ($$.Execution.Id), given to the start step: the job records it, so
	// a cancel can stop it.
	Execution string      `json:"execution,omitempty"`
	Job       *JobRef     `json:"job,omitempty"`
	Lock      *LockState  `json:"lock,omitempty"`
	Chunk     *ChunkRef   `json:"chunk,omitempty"`
	Plan      *PlanRef    `json:"plan,omitempty"`
	Error     *StateError `json:"error,omitempty"`
}

// StartResult is the start step's output; it replaces the state document.
type StartResult struct {
	Job       JobRef    `json:"job"`
	Lock      LockState `json:"lock"`
	Duplicate bool      `json:"duplicate"`
}

// FinalizeResult is the finalize step's output.
type FinalizeResult struct {
	Status    string `json:"status"`
	Total     int    `json:"total"`
	Failed    int    `json:"failed"`
	ErrorKey  string `json:"errorKey,omitempty"`
	ResultKey string `json:"resultsKey,omitempty"`
	// ChangesKey is a dry run's change report.
	ChangesKey string `json:"changesKey,omitempty"`
}

// ObjectCreated is the EventBridge event S3 sends when an object is created
// (detail-type "Object Created", source "aws.s3").
type ObjectCreated struct {
	ID         string    `json:"id"`
	DetailType string    `json:"detail-type"`
	Source     string    `json:"source"`
	Time       time.Time `json:"time"`
	Detail     struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			Size      int64  `json:"size"`
			ETag      string `json:"etag"`
			VersionID string `json:"version-id"`
			Sequencer string `json:"sequencer"`
		} `json:"object"`
		Requester string `json:"requester"`
		Reason    string `json:"reason"`
	} `json:"detail"`
}

func resultsPrefix(tenant, job string) string { return "results/" + tenant + "/" + job + "/" }

func planKey(tenant, job string) string { return resultsPrefix(tenant, job) + "plan.json" }

// ChunkListKey is where a distributed plan's chunks are written (a JSON
// array of ChunkRef, the Distributed Map's item source).
func ChunkListKey(tenant, job string) string { return resultsPrefix(tenant, job) + "chunks.json" }

// MapResultsPrefix is the Distributed Map's ResultWriter prefix (Step
// Functions adds /<map run ID>/manifest.json and the results files).
func MapResultsPrefix(tenant, job string) string { return resultsPrefix(tenant, job) + "map" }

func decisionsKey(tenant, job string, i int) string {
	return fmt.Sprintf("%schunks/%06d.json", resultsPrefix(tenant, job), i)
}

func errorPartKey(tenant, job string, i int) string {
	return fmt.Sprintf("%sparts/errors-%06d.csv", resultsPrefix(tenant, job), i)
}

func resultPartKey(tenant, job string, i int) string {
	return fmt.Sprintf("%sparts/results-%06d.csv", resultsPrefix(tenant, job), i)
}

func changePartKey(tenant, job string, i int) string {
	return fmt.Sprintf("%sparts/changes-%06d.csv", resultsPrefix(tenant, job), i)
}

// ChangesReportKey is where a dry run's merged change CSV is written
// (csvimport's change report; every dry run of a CSV type that Finalize
// completes has one, header only when nothing would change).
func ChangesReportKey(tenant, job string) string { return resultsPrefix(tenant, job) + "changes.csv" }

// ErrorReportKey is where a job's merged error CSV is written.
func ErrorReportKey(tenant, job string) string { return resultsPrefix(tenant, job) + "errors.csv" }

// ResultsReportKey is where a job's merged results CSV is written.
func ResultsReportKey(tenant, job string) string { return resultsPrefix(tenant, job) + "results.csv" }
