// Package config is the functions' configuration: every BULKOPS_*
// variable template.yaml sets (infra/local passes the same ones locally)
// and AWS_LAMBDA_LOG_LEVEL, each with its type, its default and what it
// means, in one table. A function reads it once, at start-up, through its
// wiring package (awswire.Open); nothing else reads the environment. A
// bad value is an error that names the variable and the value. It imports
// nothing from AWS.
package config

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ccbulk/bulkops/shared/applog"
)

// The variables' names.
const (
	BucketVar             = "BULKOPS_BUCKET"
	ObjectsTableVar       = "BULKOPS_OBJECTS_TABLE"
	JobsTableVar          = "BULKOPS_JOBS_TABLE"
	ControlTableVar       = "BULKOPS_CONTROL_TABLE"
	EventBusVar           = "BULKOPS_EVENT_BUS"
	ExportFunctionVar     = "BULKOPS_EXPORT_FUNCTION"
	RetryFunctionVar      = "BULKOPS_RETRY_FUNCTION"
	ImportStateMachineVar = "BULKOPS_IMPORT_STATE_MACHINE"
	TenantClaimVar        = "BULKOPS_TENANT_CLAIM"
	OperatorScopeVar      = "BULKOPS_OPERATOR_SCOPE"
	LockLeaseVar          = "BULKOPS_LOCK_LEASE_SECONDS"
	LockWaitVar           = "BULKOPS_LOCK_WAIT_SECONDS"
	LockWaitAttemptsVar   = "BULKOPS_LOCK_WAIT_ATTEMPTS"
	ChunkRowsVar          = "BULKOPS_CHUNK_ROWS"
	ChunkConcurrencyVar   = "BULKOPS_CHUNK_CONCURRENCY"
	// DistributedChunksVar and DistributedConcurrencyVar choose and size
	// the import's Distributed Map (statemachines/import.asl.json).
	DistributedChunksVar      = "BULKOPS_DISTRIBUTED_MAP_CHUNKS"
	DistributedConcurrencyVar = "BULKOPS_DISTRIBUTED_MAP_CONCURRENCY"
	WriteParallelismVar       = "BULKOPS_WRITE_PARALLELISM"
	SweepGraceVar             = "BULKOPS_SWEEP_GRACE_SECONDS"
	SecretPrefixVar           = "BULKOPS_SECRET_PREFIX"
	NotifySesIdentityVar      = "BULKOPS_NOTIFY_SES_IDENTITY"
	NotifyLinkBaseVar         = "BULKOPS_NOTIFY_LINK_BASE"
	NotifyLoopbackVar         = "BULKOPS_NOTIFY_ALLOW_LOOPBACK"
	NotifySecretPrefixVar     = "BULKOPS_NOTIFY_SECRET_PREFIX"
	LogLevelVar               = "AWS_LAMBDA_LOG_LEVEL"
)

// Config is one function's configuration.
type Config struct {
	// The resources (required by every function).
	Bucket       string // the data bucket: uploads, reports, exports
	ObjectsTable string // configuration objects
	JobsTable    string // jobs
	ControlTable string // tenant locks, chunk markers, upload grants, schedules

	// EventBus receives the job events ("" is the account's default bus).
	EventBus string
	// ExportFunction is the export function's name or ARN: the API starts
	// on-demand exports with it ("" turns them off), the dispatcher
	// scheduled ones (it requires it).
	ExportFunction string
	// RetryFunction is the retry function's name or ARN: the API invokes
	// it to build a retry's file ("" builds it inside the API).
	RetryFunction string
	// ImportStateMachine is the import state machine's ARN; the cleanup
	// function's sweeper asks it which imports still run ("" skips that).
	ImportStateMachine string
	// TenantClaim is the verified token's claim that names the tenant (""
	// is authn.DefaultTenantClaim).
	TenantClaim string
	// OperatorScope is the token scope of operators, who set tenants'
	// settings ("" is authn.DefaultOperatorScope).
	OperatorScope string
	// SecretPrefix starts the Secrets Manager names of delivery targets'
	// credentials ("" is secretstore.DefaultPrefix); the IAM policies
	// grant access under it only.
	SecretPrefix string

	// The import workflow's tunables (the export takes the lock with
	// LockLease too).
	LockLease        time.Duration // lease of the tenant lock, extended by every step
	LockWait         time.Duration // wait between attempts to take a busy lock
	LockWaitAttempts int           // attempts before giving up with Bulk.Busy
	ChunkRows        int           // rows per chunk
	ChunkConcurrency int           // chunks processed at once (the Map state's MaxConcurrencyPath)
	// DistributedChunks: a plan of more chunks runs in the Distributed Map.
	DistributedChunks int
	// DistributedConcurrency is the Distributed Map's MaxConcurrency.
	DistributedConcurrency int
	WriteParallelism       int // concurrent object writes per chunk

	// SweepGrace is how long after a lease's end the cleanup function's
	// sweeper waits before it fails the lock's job.
	SweepGrace time.Duration

	// The tenants' notifications (docs/notifications.md).
	// NotifySesIdentity is the verified SES identity notification mail is
	// sent from: an address, or a domain ("" sends no mail).
	NotifySesIdentity string
	// NotifyLinkBase is the console URL notices link to.
	NotifyLinkBase string
	// NotifyAllowLoopback accepts http://127.0.0.1 webhooks: the local
	// stack only (infra/local/env.sh); never set on AWS.
	NotifyAllowLoopback bool
	// NotifySecretPrefix starts the Secrets Manager names of the tenants'
	// webhook signing secrets ("" is notify.DefaultSecretPrefix); the
	// template sets ${AWS::StackName}/notifications/, which its IAM
	// policies grant.
	NotifySecretPrefix string

	// LogLevel is the level of the JSON log (applog.Level's names).
	LogLevel slog.Level
}

// Variable describes one setting.
type Variable struct {
	Name string
	// Default is the value of an unset variable, as it would be written
	// ("" for none).
	Default string
	// Required variables must be set (and not empty).
	Required bool
	// Means says what the setting is, and what values it takes.
	Means string

	set  func(c *Config, raw string) error
	text func(c *Config) *string // the field of a text setting
}

// Variables lists every setting, in the order Load reads them.
func Variables() []Variable { return append([]Variable(nil), variables...) }

var variables = []Variable{
	{Name: BucketVar, Required: true, Means: "the data bucket's name", text: func(c *Config) *string { return &c.Bucket }},
	{Name: ObjectsTableVar, Required: true, Means: "the objects table's name", text: func(c *Config) *string { return &c.ObjectsTable }},
	{Name: JobsTableVar, Required: true, Means: "the jobs table's name", text: func(c *Config) *string { return &c.JobsTable }},
	{Name: ControlTableVar, Required: true, Means: "the control table's name", text: func(c *Config) *string { return &c.ControlTable }},
	{Name: EventBusVar, Means: "the event bus of the job events (empty: default)", text: func(c *Config) *string { return &c.EventBus }},
	{Name: ExportFunctionVar, Means: "the export function (empty: no on-demand exports; the dispatcher needs it)", text: func(c *Config) *string { return &c.ExportFunction }},
	{Name: RetryFunctionVar, Means: "the retry function, which builds retry files (empty: the API builds them itself)", text: func(c *Config) *string { return &c.RetryFunction }},
	{Name: ImportStateMachineVar, Means: "the import state machine's ARN (cleanup)", text: func(c *Config) *string { return &c.ImportStateMachine }},
	{Name: TenantClaimVar, Means: "the token claim naming the tenant (empty: tenant)", text: func(c *Config) *string { return &c.TenantClaim }},
	{Name: OperatorScopeVar, Means: "the token scope of operators (empty: bulkops/operator)", text: func(c *Config) *string { return &c.OperatorScope }},
	{Name: SecretPrefixVar, Means: "the name prefix of delivery credentials' secrets in Secrets Manager (empty: bulkops/targets/)", text: func(c *Config) *string { return &c.SecretPrefix }},
	{Name: LockLeaseVar, Default: "300", Means: "seconds of the tenant lock's lease, a whole number, 30 or more",
		set: func(c *Config, raw string) error {
			v, err := strconv.Atoi(raw)
			if err != nil || time.Duration(v)*time.Second < MinLockLease {
				return fmt.Errorf("%s=%q: want a whole number of seconds, at least %d", LockLeaseVar, raw, int(MinLockLease.Seconds()))
			}
			c.LockLease = time.Duration(v) * time.Second
			return nil
		}},
	{Name: LockWaitVar, Default: "15", Means: "seconds between attempts to take a busy lock, a positive whole number",
		set: positiveSeconds(func(c *Config) *time.Duration { return &c.LockWait })},
	{Name: LockWaitAttemptsVar, Default: "20", Means: "attempts to take a busy lock, a positive whole number",
		set: positive(func(c *Config) *int { return &c.LockWaitAttempts })},
	{Name: ChunkRowsVar, Default: "1000", Means: "rows per import chunk, a positive whole number",
		set: positive(func(c *Config) *int { return &c.ChunkRows })},
	{Name: ChunkConcurrencyVar, Default: "4", Means: "import chunks processed at once, a positive whole number",
		set: positive(func(c *Config) *int { return &c.ChunkConcurrency })},
	{Name: DistributedChunksVar, Default: "40", Means: "an import plan of more chunks than this runs in the Distributed Map (its chunk list in S3), a positive whole number",
		set: positive(func(c *Config) *int { return &c.DistributedChunks })},
	{Name: DistributedConcurrencyVar, Default: "4", Means: "chunks of a distributed import processed at once (child executions), a positive whole number",
		set: positive(func(c *Config) *int { return &c.DistributedConcurrency })},
	{Name: WriteParallelismVar, Default: "16", Means: "concurrent object writes per chunk, a positive whole number",
		set: positive(func(c *Config) *int { return &c.WriteParallelism })},
	{Name: SweepGraceVar, Default: "60", Means: "seconds the sweeper waits after a lease ended, a whole number, 0 or more",
		set: func(c *Config, raw string) error {
			v, err := strconv.Atoi(raw)
			if err != nil || v < 0 {
				return fmt.Errorf("%s=%q: want a whole number of seconds", SweepGraceVar, raw)
			}
			c.SweepGrace = time.Duration(v) * time.Second
			return nil
		}},
	{Name: NotifySesIdentityVar, Means: "the verified SES identity (an address or a domain) notification mail is sent from (empty: no mail)",
		text: func(c *Config) *string { return &c.NotifySesIdentity }},
	{Name: NotifyLinkBaseVar, Means: "the console URL that notices link to (<base>#/jobs/<job>)", text: func(c *Config) *string { return &c.NotifyLinkBase }},
	{Name: NotifyLoopbackVar, Default: "false", Means: "true accepts http://127.0.0.1 notification webhooks (the local stack only), false refuses them",
		set: func(c *Config, raw string) error {
			switch raw {
			case "true", "false":
				c.NotifyAllowLoopback = raw == "true"
				return nil
			}
			return fmt.Errorf("%s=%q: want true or false", NotifyLoopbackVar, raw)
		}},
	{Name: NotifySecretPrefixVar, Means: "the name prefix of tenants' webhook signing secrets in Secrets Manager (empty: bulkops/notifications/)",
		text: func(c *Config) *string { return &c.NotifySecretPrefix }},
	{Name: LogLevelVar, Default: "INFO", Means: "the log level: DEBUG, INFO, WARN or ERROR (TRACE is DEBUG, FATAL is ERROR, anything else INFO)",
		set: func(c *Config, raw string) error { c.LogLevel = applog.Level(raw); return nil }},
}

// positive sets an int field from a positive whole number.
func positive(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, raw string) error {
		v, err := wholePositive(raw)
		if err != nil {
			return err
		}
		*field(c) = v
		return nil
	}
}

// positiveSeconds sets a duration field from a positive whole number of
// seconds.
func positiveSeconds(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, raw string) error {
		v, err := wholePositive(raw)
		if err != nil {
			return err
		}
		*field(c) = time.Duration(v) * time.Second
		return nil
	}
}

func wholePositive(raw string) (int, error) {
	v, err := strconv.Atoi(raw)
	if err != nil || v < 1 {
		return 0, errWant
	}
	return v, nil
}

// errWant marks a value that is not a positive whole number; apply names
// the variable and the value.
var errWant = fmt.Errorf("want a positive whole number")

// apply sets v from raw.
func (v Variable) apply(c *Config, raw string) error {
	if v.text != nil {
		*v.text(c) = raw
		return nil
	}
	if err := v.set(c, raw); err != nil {
		if err == errWant {
			return fmt.Errorf("%s=%q: %w", v.Name, raw, err)
		}
		return err
	}
	return nil
}

// MinLockLease is the shortest tenant lock lease Load accepts. A step
// renews the lease once a third of it has passed, so a writer holds at
// least two thirds of it minus the time since its last renewal; the
// import's write fence (shared/dynamostore) refuses a wave of writes unless
// the lease lasts its window and margin (7 s) past the writer's clock, so
// a lease under about 10 s would refuse every write. 30 s leaves a chunk's
// writes over 10 s of slack; the template's LockLeaseSeconds has the same
// MinValue.
const MinLockLease = 30 * time.Second

// Defaults is the configuration with every setting at its default and no
// resource names: what Load returns for an environment that sets only
// the required variables, without them.
func Defaults() Config {
	var c Config
	for _, v := range variables {
		if v.Default == "" {
			continue
		}
		if err := v.apply(&c, v.Default); err != nil {
			panic(fmt.Sprintf("config: the default of %s: %v", v.Name, err)) // a bad table entry; the tests catch it
		}
	}
	return c
}

// Load reads every setting from getenv (os.Getenv, or the dev server's
// view of a function's environment). An unset or empty variable takes its
// default; a required one that is unset is an error, and so is a value
// that is not what the setting takes. Errors name the variable and the
// value.
func Load(getenv func(string) string) (Config, error) {
	c := Defaults()
	for _, v := range variables {
		raw := getenv(v.Name)
		if raw == "" {
			if v.Required {
				return Config{}, NotSet(v.Name)
			}
			continue
		}
		if err := v.apply(&c, raw); err != nil {
			return Config{}, err
		}
	}
	return c, nil
}

// Require checks that the text settings named are set: what one function
// needs beyond what every function needs (the dispatcher's
// BULKOPS_EXPORT_FUNCTION).
func (c Config) Require(names ...string) error {
	for _, name := range names {
		found := false
		for _, v := range variables {
			if v.Name != name {
				continue
			}
			found = true
			if v.text == nil {
				return fmt.Errorf("config: %s is not a text setting", name)
			}
			if *v.text(&c) == "" {
				return NotSet(name)
			}
		}
		if !found {
			return fmt.Errorf("config: no setting %s", name)
		}
	}
	return nil
}

// NotSet is the error of a variable a function needs that is not set.
func NotSet(name string) error { return fmt.Errorf("environment variable %s is not set", name) }
