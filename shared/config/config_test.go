package config_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/config"
)

// env is a getenv over a map.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// resources are the variables every function needs.
func resources() map[string]string {
	return map[string]string{
		config.BucketVar: "data", config.ObjectsTableVar: "objects", config.JobsTableVar: "jobs", config.ControlTableVar: "control",
	}
}

// TestDefaults: an environment with only the resources gets the
// documented defaults (the ones template.yaml's parameters also default
// to).
func TestDefaults(t *testing.T) {
	c, err := config.Load(env(resources()))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Bucket: "data", ObjectsTable: "objects", JobsTable: "jobs", ControlTable: "control",
		LockLease: 300 * time.Second, LockWait: 15 * time.Second, LockWaitAttempts: 20,
		ChunkRows: 1000, ChunkConcurrency: 4, WriteParallelism: 16, SweepGrace: time.Minute, LogLevel: slog.LevelInfo,
		DistributedChunks: 40, DistributedConcurrency: 4,
	}
	if c != want {
		t.Fatalf("Load = %+v\nwant %+v", c, want)
	}
	d := config.Defaults()
	want.Bucket, want.ObjectsTable, want.JobsTable, want.ControlTable = "", "", "", ""
	if d != want {
		t.Fatalf("Defaults = %+v\nwant %+v", d, want)
	}
}

// TestLoadReadsEverySetting: each variable lands in its field, typed.
func TestLoadReadsEverySetting(t *testing.T) {
	vars := resources()
	for k, v := range map[string]string{
		config.EventBusVar: "bus", config.ExportFunctionVar: "export-fn", config.ImportStateMachineVar: "arn:sm",
		config.TenantClaimVar: "custom:tenant", config.LockLeaseVar: "120", config.LockWaitVar: "2",
		config.LockWaitAttemptsVar: "3", config.ChunkRowsVar: "500", config.ChunkConcurrencyVar: "8",
		config.DistributedChunksVar: "100", config.DistributedConcurrencyVar: "500",
		config.WriteParallelismVar: "32", config.SweepGraceVar: "0", config.LogLevelVar: "warn",
		config.SecretPrefixVar:      "stack/targets/",
		config.NotifySesIdentityVar: "acme.example", config.NotifyLinkBaseVar: "https://console.example/", config.NotifyLoopbackVar: "true",
	} {
		vars[k] = v
	}
	c, err := config.Load(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Bucket: "data", ObjectsTable: "objects", JobsTable: "jobs", ControlTable: "control",
		EventBus: "bus", ExportFunction: "export-fn", ImportStateMachine: "arn:sm", TenantClaim: "custom:tenant",
		SecretPrefix: "stack/targets/", LockLease: 120 * time.Second, LockWait: 2 * time.Second, LockWaitAttempts: 3,
		ChunkRows: 500, ChunkConcurrency: 8, WriteParallelism: 32, SweepGrace: 0, LogLevel: slog.LevelWarn,
		DistributedChunks: 100, DistributedConcurrency: 500,
		NotifySesIdentity: "acme.example", NotifyLinkBase: "https://console.example/", NotifyAllowLoopback: true,
	}
	if c != want {
		t.Fatalf("Load = %+v\nwant %+v", c, want)
	}
}

// TestLoadRefusesBadValues: a missing resource or a value the setting
// does not take is an error naming the variable and the value.
func TestLoadRefusesBadValues(t *testing.T) {
	cases := []struct {
		name, value string
		want        string
	}{
		{config.BucketVar, "", "environment variable BULKOPS_BUCKET is not set"},
		{config.ObjectsTableVar, "", "environment variable BULKOPS_OBJECTS_TABLE is not set"},
		{config.JobsTableVar, "", "environment variable BULKOPS_JOBS_TABLE is not set"},
		{config.ControlTableVar, "", "environment variable BULKOPS_CONTROL_TABLE is not set"},
		{config.LockLeaseVar, "0", `BULKOPS_LOCK_LEASE_SECONDS="0": want a whole number of seconds, at least 30`},
		{config.LockLeaseVar, "29", `BULKOPS_LOCK_LEASE_SECONDS="29": want a whole number of seconds, at least 30`},
		{config.LockLeaseVar, "5m", `BULKOPS_LOCK_LEASE_SECONDS="5m": want a whole number of seconds, at least 30`},
		{config.LockWaitVar, "1.5", `BULKOPS_LOCK_WAIT_SECONDS="1.5": want a positive whole number`},
		{config.LockWaitAttemptsVar, "-1", `BULKOPS_LOCK_WAIT_ATTEMPTS="-1": want a positive whole number`},
		{config.ChunkRowsVar, "1e3", `BULKOPS_CHUNK_ROWS="1e3": want a positive whole number`},
		{config.ChunkConcurrencyVar, "four", `BULKOPS_CHUNK_CONCURRENCY="four": want a positive whole number`},
		{config.WriteParallelismVar, " 16", `BULKOPS_WRITE_PARALLELISM=" 16": want a positive whole number`},
		{config.SweepGraceVar, "-5", `BULKOPS_SWEEP_GRACE_SECONDS="-5": want a whole number of seconds`},
		{config.SweepGraceVar, "1m", `BULKOPS_SWEEP_GRACE_SECONDS="1m": want a whole number of seconds`},
		{config.NotifyLoopbackVar, "yes", `BULKOPS_NOTIFY_ALLOW_LOOPBACK="yes": want true or false`},
	}
	for _, c := range cases {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			vars := resources()
			vars[c.name] = c.value
			got, err := config.Load(env(vars))
			if err == nil || err.Error() != c.want {
				t.Fatalf("Load = %+v, %v; want the error %q", got, err, c.want)
			}
		})
	}
}

// TestLogLevel: the level names Lambda's advanced logging controls use;
// anything else is INFO, never an error (a function must not fail to
// start over its log level).
func TestLogLevel(t *testing.T) {
	for raw, want := range map[string]slog.Level{
		"TRACE": slog.LevelDebug, "debug": slog.LevelDebug, "INFO": slog.LevelInfo, "WARN": slog.LevelWarn,
		"warning": slog.LevelWarn, "ERROR": slog.LevelError, "FATAL": slog.LevelError, "loud": slog.LevelInfo,
	} {
		vars := resources()
		vars[config.LogLevelVar] = raw
		c, err := config.Load(env(vars))
		if err != nil || c.LogLevel != want {
			t.Errorf("%s=%q: level %v (%v), want %v", config.LogLevelVar, raw, c.LogLevel, err, want)
		}
	}
}

// TestRequire: what one function needs beyond the resources.
func TestRequire(t *testing.T) {
	c := config.Defaults()
	if err := c.Require(config.ExportFunctionVar); err == nil || err.Error() != "environment variable BULKOPS_EXPORT_FUNCTION is not set" {
		t.Fatalf("Require without the export function: %v", err)
	}
	c.ExportFunction = "fn"
	if err := c.Require(config.ExportFunctionVar); err != nil {
		t.Fatal(err)
	}
	if err := c.Require(config.ChunkRowsVar); err == nil {
		t.Fatal("Require of a number setting should be refused")
	}
	if err := c.Require("BULKOPS_NOPE"); err == nil {
		t.Fatal("Require of an unknown setting should be refused")
	}
}

// TestVariablesDocumented: every setting has a name, a meaning, and
// names no other setting's variable.
func TestVariablesDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range config.Variables() {
		if v.Name == "" || v.Means == "" {
			t.Errorf("undocumented setting %+v", v)
		}
		if seen[v.Name] {
			t.Errorf("%s listed twice", v.Name)
		}
		seen[v.Name] = true
		if !strings.HasPrefix(v.Name, "BULKOPS_") && v.Name != config.LogLevelVar {
			t.Errorf("%s: only BULKOPS_* settings (and the log level) belong here", v.Name)
		}
	}
}
