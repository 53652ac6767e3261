package importflow_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/config"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/importapp"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/s3store"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

// harness runs the workflow's steps in order against MinIO and DynamoDB
// Local, the way the state machine does (without the interpreter, so
// faults can be injected between steps).
type harness struct {
	t      testing.TB
	flow   *importflow.Flow
	db     *dynamostore.Store
	files  *s3store.Store
	s3     *s3.Client
	bucket string
	// catchChunks plays the Map item's Catch: a chunk that still fails
	// after its retries is recorded as failed and the run goes on.
	catchChunks bool
}

func newHarness(t testing.TB, chunkRows int) *harness {
	st := localtest.Require(t)
	st.Provision(t)
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, time.Now)
	files := s3store.New(st.Clients.S3, st.Ref("DataBucket"))
	cfg := importapp.FlowConfig(config.Defaults())
	cfg.ChunkRows = chunkRows
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return &harness{t: t, flow: importapp.Assemble(cfg, db, files, log), db: db, files: files, s3: st.Clients.S3, bucket: st.Ref("DataBucket")}
}

// upload puts body under imports/<tenant>/<type>/<name> and returns the
// "Object Created" event EventBridge would deliver.
func (h *harness) upload(tenant, typ, name string, body []byte, meta map[string]string) importflow.ObjectCreated {
	h.t.Helper()
	key := fmt.Sprintf("imports/%s/%s/%s", tenant, typ, name)
	out, err := h.s3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: &h.bucket, Key: &key, Body: bytes.NewReader(body), Metadata: meta,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	var ev importflow.ObjectCreated
	ev.ID = "ev-" + aws.ToString(out.VersionId)
	ev.Source, ev.DetailType = "aws.s3", "Object Created"
	ev.Detail.Bucket.Name = h.bucket
	ev.Detail.Object.Key = key
	ev.Detail.Object.VersionID = aws.ToString(out.VersionId)
	ev.Detail.Object.Sequencer = aws.ToString(out.VersionId)
	return ev
}

// run executes start → lock → prepare → chunks → finalize → release and
// returns the finished job. beforeChunk, if set, runs before each chunk and
// may make it fail once (fault injection).
func (h *harness) run(ev importflow.ObjectCreated, beforeChunk func(c importflow.ChunkRef) error) jobs.Job {
	h.t.Helper()
	ctx := context.Background()
	f := h.flow
	sr, err := f.Start(ctx, ev)
	if err != nil {
		h.t.Fatalf("start: %v", err)
	}
	j := sr.Job
	if ls, err := f.AcquireLock(ctx, j, importflow.LockState{}); err != nil || !ls.Acquired {
		h.t.Fatalf("lock: %+v %v", ls, err)
	}
	plan, err := f.Prepare(ctx, j)
	if err != nil {
		if ferr := f.MarkFailed(ctx, j, &importflow.StateError{Error: "Bulk.Invalid", Cause: fmt.Sprintf(`{"errorMessage":%q}`, err.Error())}); ferr != nil {
			h.t.Fatal(ferr)
		}
		if err := f.Locks.ReleaseLock(ctx, j.Tenant, j.JobID); err != nil {
			h.t.Fatal(err)
		}
		got, err := h.db.GetJob(ctx, j.Tenant, j.JobID)
		if err != nil {
			h.t.Fatal(err)
		}
		return got
	}
	chunks, err := f.Chunks(ctx, j, plan) // a plan over the Distributed Map threshold lists none
	if err != nil {
		h.t.Fatal(err)
	}
	for _, c := range chunks {
		for attempt := 0; ; attempt++ {
			if beforeChunk != nil {
				if err := beforeChunk(c); err != nil {
					continue // the injected fault "failed" this attempt; retry
				}
			}
			if _, err := f.ProcessChunk(ctx, j, c); err != nil {
				if attempt < 3 {
					continue
				}
				if !h.catchChunks {
					h.t.Fatalf("chunk %d: %v", c.Index, err)
				}
				// The Map item's Catch: record the chunk as failed, go on.
				cause := fmt.Sprintf(`{"errorMessage":%q}`, bulkerr.Message(err))
				if _, err := f.Handle(ctx, importflow.Request{Step: "chunkFailed", Job: &j, Chunk: &c,
					Error: &importflow.StateError{Error: "Bulk." + string(bulkerr.KindOf(err)), Cause: cause}}); err != nil {
					h.t.Fatalf("chunkFailed %d: %v", c.Index, err)
				}
			}
			break
		}
	}
	for attempt := 0; ; attempt++ { // the Finalize state's Retry
		_, err := f.Finalize(ctx, j, plan)
		if err == nil {
			break
		}
		if attempt == 3 || bulkerr.KindOf(err) != bulkerr.Transient {
			h.t.Fatalf("finalize: %v", err)
		}
	}
	if err := f.Locks.ReleaseLock(ctx, j.Tenant, j.JobID); err != nil {
		h.t.Fatal(err)
	}
	got, err := h.db.GetJob(ctx, j.Tenant, j.JobID)
	if err != nil {
		h.t.Fatal(err)
	}
	return got
}

func (h *harness) csv(key string) [][]string {
	h.t.Helper()
	raw, err := h.files.Get(context.Background(), key)
	if err != nil {
		h.t.Fatalf("reading %s: %v", key, err)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\xEF\xBB\xBF")))).ReadAll()
	if err != nil {
		h.t.Fatalf("parsing %s: %v", key, err)
	}
	return rows
}

func sample(t testing.TB) []byte {
	raw, err := os.ReadFile(filepath.Join(localtest.RepoRoot(t), "samples", "work-type.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestImportSampleThenReimportIsUnchanged(t *testing.T) {
	h := newHarness(t, 3)
	job := h.run(h.upload("acme", "work-type", "work-type.csv", sample(t), map[string]string{"submitted-by": "mallory@acme.example"}), nil)
	want := jobs.Counts{Total: 8, Processed: 8, Created: 5, Failed: 3}
	if job.Status != jobs.StatusCompletedWithErrs || job.Counts != want {
		t.Fatalf("job = %s %+v, want Completed with errors %+v", job.Status, job.Counts, want)
	}
	if job.SubmittedBy != importflow.DirectUploadSubmitter || job.StartedAt == nil || job.EndedAt == nil { // never the uploader's header
		t.Errorf("job metadata: submittedBy=%q started=%v ended=%v", job.SubmittedBy, job.StartedAt, job.EndedAt)
	}
	errs := h.csv(job.ErrorKey)
	if got := strings.Join(errs[0], ","); got != "Name,Description,Type,Row,Error Code,Error Message" {
		t.Errorf("error header = %q", got)
	}
	var rows []string
	for _, r := range errs[1:] {
		rows = append(rows, r[3]+":"+r[4])
	}
	if got := strings.Join(rows, " "); got != "7:NOT_ALLOWED 8:REQUIRED 9:DUPLICATE_KEY" {
		t.Errorf("error rows = %s", got)
	}
	if !strings.Contains(errs[3][5], "row 2") {
		t.Errorf("duplicate message should name the first row: %q", errs[3][5])
	}
	res := h.csv(job.ResultsKey)
	if len(res) != 6 || res[1][0] != "2" || res[1][3] != "created" || res[1][2] == "" {
		t.Errorf("results = %v", res)
	}
	objs, err := h.db.Objects("acme").GetObjects(context.Background(), "work-type", []string{"lunch", "sale"})
	if err != nil || len(objs) != 2 || objs["sale"].Fields["type"] != "WRAP_UP_CODE" {
		t.Fatalf("stored objects: %+v %v", objs, err)
	}
	firstID := objs["lunch"].ID

	// The same file again is a new job; every valid row is unchanged.
	again := h.run(h.upload("acme", "work-type", "work-type.csv", sample(t), nil), nil)
	if again.ID == job.ID || again.Counts != (jobs.Counts{Total: 8, Processed: 8, Unchanged: 5, Failed: 3}) {
		t.Fatalf("re-import: id %s (first %s) counts %+v", again.ID, job.ID, again.Counts)
	}
	// An update keeps the object's ID and bumps its version once.
	upd := h.run(h.upload("acme", "work-type", "upd.csv", []byte("name,DESCRIPTION,type\nLunch,Longer lunch,\n"), nil), nil)
	if upd.Status != jobs.StatusCompleted || upd.Counts.Updated != 1 {
		t.Fatalf("update job: %s %+v", upd.Status, upd.Counts)
	}
	if objs, err = h.db.Objects("acme").GetObjects(context.Background(), "work-type", []string{"lunch"}); err != nil {
		t.Fatal(err)
	}
	if o := objs["lunch"]; o.ID != firstID || o.Version != 2 || o.Fields["description"] != "Longer lunch" || o.Fields["type"] != "IDLE_CODE" {
		t.Fatalf("updated object: %+v", o)
	}
	// Another tenant sees none of it.
	other, err := h.db.Objects("other").GetObjects(context.Background(), "work-type", []string{"lunch"})
	if err != nil || len(other) != 0 {
		t.Fatalf("tenant isolation: %+v %v", other, err)
	}
}

func TestRetriedChunksApplyEachRowOnce(t *testing.T) {
	h := newHarness(t, 2)
	var body strings.Builder
	body.WriteString("Name;Description;Type\r\n")
	for i := range 9 {
		fmt.Fprintf(&body, "Code %d;\"multi\nline %d\";IDLE_CODE\r\n", i, i)
	}
	failed := map[int]bool{}
	ctx := context.Background()
	job := h.run(h.upload("retry", "work-type", "codes.csv", []byte(body.String()), nil), func(c importflow.ChunkRef) error {
		if failed[c.Index] {
			return nil
		}
		failed[c.Index] = true
		// Fault after writing: run the chunk fully, then pretend the
		// Lambda died before answering, so Step Functions retries it.
		if _, err := h.flow.ProcessChunk(ctx, mustJob(t, h, "retry"), c); err != nil {
			t.Fatalf("first attempt: %v", err)
		}
		return fmt.Errorf("injected")
	})
	if job.Status != jobs.StatusCompleted || job.Counts != (jobs.Counts{Total: 9, Processed: 9, Created: 9}) {
		t.Fatalf("job %s %+v", job.Status, job.Counts)
	}
	keys := []string{}
	for i := range 9 {
		keys = append(keys, fmt.Sprintf("code %d", i))
	}
	objs, err := h.db.Objects("retry").GetObjects(ctx, "work-type", keys)
	if err != nil || len(objs) != 9 {
		t.Fatalf("objects: %d %v", len(objs), err)
	}
	for k, o := range objs {
		if o.Version != 1 {
			t.Errorf("%s has version %d, want 1", k, o.Version)
		}
		if !strings.HasPrefix(o.Fields["description"], "multi\nline ") {
			t.Errorf("%s description %q", k, o.Fields["description"])
		}
	}
}

// mustJob returns the running job of tenant (the one holding its lock).
func mustJob(t *testing.T, h *harness, tenant string) importflow.JobRef {
	t.Helper()
	list, err := h.db.ListJobs(context.Background(), tenant, 1)
	if err != nil || len(list) == 0 {
		t.Fatalf("no job: %v", err)
	}
	j := list[0]
	return importflow.JobRef{Tenant: tenant, JobID: j.ID, Bucket: h.bucket, Key: j.SourceKey, ObjectType: j.ObjectType, FileName: j.FileName}
}

func TestDryRunWritesNothing(t *testing.T) {
	h := newHarness(t, 1000)
	job := h.run(h.upload("dry", "work-type", "w.csv", sample(t), map[string]string{"dry-run": "true"}), nil)
	if !job.DryRun || job.Counts.Created != 5 || job.Counts.Failed != 3 {
		t.Fatalf("dry run job: %+v", job)
	}
	objs, err := h.db.Objects("dry").GetObjects(context.Background(), "work-type", []string{"lunch"})
	if err != nil || len(objs) != 0 {
		t.Fatalf("dry run wrote objects: %+v %v", objs, err)
	}
}

func TestBadFilesFailTheJobWithTheReason(t *testing.T) {
	h := newHarness(t, 1000)
	tests := []struct {
		name, typ, body, want string
	}{
		{"unknown header", "work-type", "Name,Descripton,Type\nA,b,IDLE_CODE\n", `did you mean "Description"`},
		{"missing column", "work-type", "Name,Description\nA,b\n", `no "Type" column`},
		{"bare quote", "work-type", "Name,Description,Type\nA,say \"hi\",IDLE_CODE\n", "line 2, column"},
		{"unknown type", "widgets", "Name\nA\n", "not known"},
		{"utf-16", "work-type", "\xff\xfeN\x00", "UTF-16"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := h.run(h.upload(fmt.Sprintf("bad%d", i), tt.typ, "f.csv", []byte(tt.body), nil), nil)
			if job.Status != jobs.StatusFailed || !strings.Contains(job.Message, tt.want) {
				t.Fatalf("job %s %q, want Failed with %q", job.Status, job.Message, tt.want)
			}
		})
	}
}

// TestConcurrentSubmissionsRunOneAtATime submits 50 uploads of one tenant at
// once: exactly one takes the tenant lock, the others are told to wait; a
// second tenant is not blocked.
func TestConcurrentSubmissionsRunOneAtATime(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := context.Background()
	const n = 50
	events := make([]importflow.ObjectCreated, n)
	for i := range events {
		events[i] = h.upload("busy", "work-type", fmt.Sprintf("f%02d.csv", i), sample(t), nil)
	}
	other := h.upload("calm", "work-type", "w.csv", sample(t), nil)
	type result struct {
		job importflow.JobRef
		ls  importflow.LockState
		err error
	}
	results := make(chan result, n+1)
	var start sync.WaitGroup
	start.Add(1)
	for _, ev := range append(events, other) {
		go func() {
			start.Wait()
			sr, err := h.flow.Start(ctx, ev)
			if err != nil {
				results <- result{err: err}
				return
			}
			ls, err := h.flow.AcquireLock(ctx, sr.Job, importflow.LockState{})
			results <- result{job: sr.Job, ls: ls, err: err}
		}()
	}
	start.Done()
	acquired := map[string]int{}
	var holder string
	for range n + 1 {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.ls.Acquired {
			acquired[r.job.Tenant]++
			if r.job.Tenant == "busy" {
				holder = r.job.JobID
			}
		} else if r.ls.Holder == "" || r.ls.WaitSeconds < 1 {
			t.Errorf("a waiting job must learn the holder and how long to wait: %+v", r.ls)
		}
	}
	if acquired["busy"] != 1 || acquired["calm"] != 1 {
		t.Fatalf("acquired per tenant: %v, want exactly one each", acquired)
	}
	list, err := h.db.ListJobs(ctx, "busy", 100)
	if err != nil || len(list) != n {
		t.Fatalf("jobs of busy: %d %v", len(list), err)
	}
	if err := h.flow.Locks.ReleaseLock(ctx, "busy", holder); err != nil {
		t.Fatal(err)
	}
}

// TestLargeFilesArePerTenant: a file over the default limit fails with the
// limit, how to split it and how to raise it; the same file from a tenant
// whose settings allow large files is imported in chunks.
func TestLargeFilesArePerTenant(t *testing.T) {
	h := newHarness(t, 2000)
	var body bytes.Buffer
	body.WriteString("Name,Description,Type\n")
	const rows = 5001
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&body, "Code %05d,generated,IDLE_CODE\n", i)
	}
	ctx := context.Background()

	small := h.run(h.upload("small", "work-type", "big.csv", body.Bytes(), nil), nil)
	if small.Status != jobs.StatusFailed || !strings.Contains(small.Message, "more than 5000 data rows") ||
		!strings.Contains(small.Message, "split it") || !strings.Contains(small.Message, "enable large files") {
		t.Fatalf("default tenant: %s %q, want Failed saying the limit, how to split and how to raise it", small.Status, small.Message)
	}

	if err := h.db.PutTenantSettings(ctx, "large", tenancy.Settings{LargeFiles: true}); err != nil {
		t.Fatal(err)
	}
	if ts, err := h.db.TenantSettings(ctx, "large"); err != nil || !ts.LargeFiles {
		t.Fatalf("settings read back as %+v, %v", ts, err)
	}
	large := h.run(h.upload("large", "work-type", "big.csv", body.Bytes(), nil), nil)
	if large.Status != jobs.StatusCompleted || large.Counts.Created != rows || large.Counts.Total != rows {
		t.Fatalf("large tenant: %s %+v %q, want Completed with %d created", large.Status, large.Counts, large.Message, rows)
	}
}
