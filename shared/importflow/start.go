package importflow

import (
	"context"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// tenantPattern is what a tenant ID in an upload key may look like.
var tenantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// UploadKey is an upload key taken apart: imports/<tenant>/<type>/<file>.
type UploadKey struct {
	Tenant   string
	TypeSlug string // as written in the key; resolved by prepare
	FileName string
}

// ParseUploadKey checks and splits an upload key. The tenant comes from the
// key prefix, which IAM confines each tenant's uploads to; nothing inside the
// file can change it.
func ParseUploadKey(key string) (UploadKey, error) {
	parts := strings.SplitN(key, "/", 4)
	if len(parts) != 4 || parts[0] != "imports" || parts[3] == "" || strings.HasSuffix(parts[3], "/") {
		return UploadKey{}, bulkerr.New(bulkerr.Invalid,
			"upload key %q is not of the form imports/<tenant>/<object type>/<file name>", key)
	}
	if !tenantPattern.MatchString(parts[1]) {
		return UploadKey{}, bulkerr.New(bulkerr.Invalid,
			"upload key %q: tenant %q must be lower-case letters, digits and dashes", key, parts[1])
	}
	if parts[2] == "" {
		return UploadKey{}, bulkerr.New(bulkerr.Invalid, "upload key %q names no object type", key)
	}
	return UploadKey{Tenant: parts[1], TypeSlug: parts[2], FileName: path.Base(parts[3])}, nil
}

// Metadata keys an uploader may set on the S3 object (x-amz-meta-*).
// Nothing in them is trusted: a job-id is accepted only when the API
// registered it for the tenant and key (its presigned POST policy pins it
// too), and then the submitter and dry run come from that registration;
// submitted-by is never read. dry-run is honoured from a direct upload (it
// only ever makes the import do less).
const (
	MetaSubmittedBy = "submitted-by"
	MetaDryRun      = "dry-run"
	MetaJobID       = "job-id"
)

// Start is StartExecution outside any Step Functions execution (tests,
// tools): the job records no execution.
func (f *Flow) Start(ctx context.Context, ev ObjectCreated) (StartResult, error) {
	return f.StartExecution(ctx, ev, "")
}

// StartExecution registers the job for an uploaded file, run by the Step
// Functions execution executionArn (recorded on the job, so a cancel can
// stop it). It reads the object version
// the event names (detail.object.version-id), never the key's current
// version, so a second upload to the same key is a second job of its own.
// A re-delivered event for the same upload (same bucket, key, version and
// sequencer) yields Duplicate and the state machine ends.
func (f *Flow) StartExecution(ctx context.Context, ev ObjectCreated, executionArn string) (StartResult, error) {
	if ev.Source != "aws.s3" || ev.DetailType != "Object Created" {
		return StartResult{}, bulkerr.New(bulkerr.Invalid, "event %s is %q from %q, not an S3 Object Created event", ev.ID, ev.DetailType, ev.Source)
	}
	bucket, key, version := ev.Detail.Bucket.Name, ev.Detail.Object.Key, ev.Detail.Object.VersionID
	info, err := f.Files.HeadVersion(ctx, key, version)
	if bulkerr.KindOf(err) == bulkerr.NotFound && strings.ContainsAny(key, "%+") {
		// Some emitters URL-encode keys (S3 notification style); try that.
		if dec, derr := url.QueryUnescape(key); derr == nil && dec != key {
			if info2, err2 := f.Files.HeadVersion(ctx, dec, version); err2 == nil {
				key, info, err = dec, info2, nil
			}
		}
	}
	if err != nil {
		return StartResult{}, err
	}
	uk, err := ParseUploadKey(key)
	if err != nil {
		return StartResult{}, err
	}
	if version == "" { // an unversioned bucket: the only version there is
		version = info.VersionID
	}
	uploadID := bucket + "/" + key + "#" + version + "#" + ev.Detail.Object.Sequencer

	jobID, submittedBy, dryRun, retryOf, applyOf := "", directSubmitter(ev), isTrue(info.Metadata[MetaDryRun]), "", ""
	if claimed := strings.TrimSpace(info.Metadata[MetaJobID]); claimed != "" && f.Uploads != nil {
		g, ok, err := f.Uploads.RedeemUpload(ctx, uk.Tenant, claimed, key, uploadID)
		if err != nil {
			return StartResult{}, err
		}
		if ok {
			jobID, submittedBy, dryRun, retryOf, applyOf = g.JobID, g.SubmittedBy, g.DryRun, g.RetryOf, g.ApplyOf
		} else {
			f.Log.WarnContext(ctx, "upload names a job the API did not issue for this key (or one already used); starting a new job",
				"tenant", uk.Tenant, "key", key, "claimedJobId", claimed)
		}
	}
	if jobID == "" {
		if jobID, err = f.NewID(); err != nil {
			return StartResult{}, bulkerr.Wrap(bulkerr.Internal, err, "making a job ID")
		}
	}
	owner, claimed, err := f.Progress.ClaimUpload(ctx, uploadID, jobID)
	if err != nil {
		return StartResult{}, err
	}
	ref := JobRef{
		Tenant: uk.Tenant, JobID: owner, Bucket: bucket, Key: key, VersionID: version,
		ObjectType: uk.TypeSlug, FileName: uk.FileName, DryRun: dryRun, ApplyOf: applyOf,
	}
	j := jobs.Job{
		Tenant: ref.Tenant, ID: ref.JobID, Type: jobs.TypeImport, ObjectType: ref.ObjectType,
		FileName: ref.FileName, Bucket: bucket, SourceKey: key, SourceVersion: version, DryRun: ref.DryRun,
		Status: jobs.StatusNew, SubmittedBy: submittedBy, SubmittedAt: f.Now().UTC(), ExecutionArn: executionArn,
		RetryOf: retryOf, // the link to the job whose rejected rows this one retries (from the API's grant only)
		ApplyOf: applyOf, // the dry run whose decisions this one applies (from the API's grant only)
	}
	if !claimed {
		// Another run claimed this upload. If it got as far as creating
		// the job, this is a duplicate; if not (it crashed in between),
		// this run carries on with the claimed job ID.
		if _, err := f.Jobs.GetJob(ctx, ref.Tenant, owner); err == nil {
			return StartResult{Job: ref, Duplicate: true}, nil
		} else if bulkerr.KindOf(err) != bulkerr.NotFound {
			return StartResult{}, err
		}
	}
	if err := f.Jobs.CreateJob(ctx, j); err != nil {
		if bulkerr.KindOf(err) == bulkerr.Conflict && !claimed {
			return StartResult{Job: ref, Duplicate: true}, nil
		}
		if bulkerr.KindOf(err) == bulkerr.Conflict && retryOf != "" {
			// A retry job: the API recorded it when the retry was asked
			// for (New, "building the retry file"); this upload is its
			// file. A job that no longer waits for it (failed, cancelled)
			// is not run.
			if err := f.Jobs.AdoptJob(ctx, j); bulkerr.KindOf(err) == bulkerr.Conflict {
				f.logger(ref).WarnContext(ctx, "the retry job no longer waits for its file; not run", "key", key, "version", version, "err", err.Error())
				return StartResult{Job: ref, Duplicate: true}, nil
			} else if err != nil {
				return StartResult{}, err
			}
			f.logger(ref).InfoContext(ctx, "retry job adopted its file", "key", key, "version", version, "retryOf", retryOf, "dryRun", ref.DryRun)
			return StartResult{Job: ref}, f.announce(ctx, ref.Tenant, ref.JobID)
		}
		if bulkerr.KindOf(err) == bulkerr.Conflict {
			// retried start: the job exists from our own first attempt
			return StartResult{Job: ref}, f.announce(ctx, ref.Tenant, ref.JobID)
		}
		return StartResult{}, err
	}
	if err := f.announce(ctx, ref.Tenant, ref.JobID); err != nil {
		return StartResult{}, err
	}
	f.logger(ref).InfoContext(ctx, "job registered", "key", key, "version", version, "objectType", ref.ObjectType, "dryRun", ref.DryRun, "submittedBy", submittedBy)
	return StartResult{Job: ref}, nil
}

// DirectUploadSubmitter is the submitter of an upload the API did not
// issue, when S3 does not say who made it.
const DirectUploadSubmitter = "S3 upload"

// directSubmitter names the submitter of a direct S3 upload from the
// identity S3 reports (EventBridge's detail.requester; locally MinIO's
// userIdentity), never from what the uploader wrote into the object.
func directSubmitter(ev ObjectCreated) string {
	if r := strings.TrimSpace(ev.Detail.Requester); r != "" {
		return DirectUploadSubmitter + " (" + r + ")"
	}
	return DirectUploadSubmitter
}

func isTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "1", "y":
		return true
	}
	return false
}
