package dynamostore

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// Schedules are kept in the control table: a schedule.Schedule under pk
// "SCHED#<tenant>", sk the schedule ID; its runs (schedule.Run) under pk
// "SCHEDRUN#<tenant>#<schedule>", sk the job ID, kept
// schedule.RunRetention. What a schedule is and when it may change is
// package schedule's; this file keeps the encoding and the conditional
// writes.
//
// A schedule item holds the definition (title, description, types, prefix,
// when, options, maxFailures) with the ID and the creator as one JSON
// attribute "schedule", and the state the dispatcher and the runs change as
// attributes of their own, so that every change is one conditional write:
// nextRun (epoch ms), dueShard, active, runningJob, submitted, failures,
// highWater, suspendedReason, lastJob, lastRun, version, updatedAt. An
// active schedule with a next run carries dueShard, which puts it in the
// sparse "due" index (dueShard, nextRun).

// scheduleBody is the definition part of a schedule item ("schedule").
type scheduleBody struct {
	ID string `json:"id"`
	schedule.Definition
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
}

// runningShard is the one partition of the "running" index.
const runningShard = "running"

// dueShard is the one partition of the "due" index.
const dueShard = "due"

// maxStateRetries bounds the optimistic retries of FinishRun.
const maxStateRetries = 5

func scheduleKey(tenant, id string) map[string]ddbtypes.AttributeValue {
	return key("SCHED#"+tenant, id)
}

func s2(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }

func boolAV(v bool) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberBOOL{Value: v} }

func timeAV(t time.Time) ddbtypes.AttributeValue { return s(t.UTC().Format(time.RFC3339Nano)) }

func encodeBody(s schedule.Schedule) (ddbtypes.AttributeValue, error) {
	raw, err := json.Marshal(scheduleBody{ID: s.ID, Definition: s.Definition, CreatedBy: s.CreatedBy, CreatedAt: s.CreatedAt})
	if err != nil {
		return nil, bulkerr.Wrap(bulkerr.Internal, err, "encoding schedule %s", s.ID)
	}
	return s2(string(raw)), nil
}

// PutSchedule creates s with Version 1; it fails with Conflict if the ID
// exists and with Invalid if the definition is not valid. The state fields
// of s (Active, NextRun, HighWater, …) are stored as given.
func (st *Store) PutSchedule(ctx context.Context, s schedule.Schedule) error {
	if err := s.Check(); err != nil {
		return err
	}
	body, err := encodeBody(s)
	if err != nil {
		return err
	}
	item := scheduleKey(s.Tenant, s.ID)
	item["schedule"] = body
	item["active"] = boolAV(s.Active)
	item["failures"] = n(int64(s.Failures))
	item["version"] = n(1)
	if s.Active && !s.NextRun.IsZero() {
		item["dueShard"] = s2(dueShard)
	}
	if !s.NextRun.IsZero() {
		item["nextRun"] = n(s.NextRun.UnixMilli())
	}
	if s.LastJob != "" {
		item["lastJob"] = s2(s.LastJob)
	}
	if s.LastRun != nil {
		item["lastRun"] = n(s.LastRun.UnixMilli())
	}
	if s.RunningJob != "" {
		item["runningJob"] = s2(s.RunningJob)
	}
	if s.Submitted {
		item["submitted"] = boolAV(true)
	}
	if !s.HighWater.IsZero() {
		item["highWater"] = timeAV(s.HighWater)
	}
	if s.SuspendedReason != "" {
		item["suspendedReason"] = s2(s.SuspendedReason)
	}
	if !s.UpdatedAt.IsZero() {
		item["updatedAt"] = timeAV(s.UpdatedAt)
	}
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &st.tables.Control, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if isConditionFailed(err) {
		return bulkerr.New(bulkerr.Conflict, "schedule %s already exists; choose another ID", s.ID)
	}
	return classify(err, "creating schedule %s", s.ID)
}

func decodeSchedule(tenant string, item map[string]ddbtypes.AttributeValue) (schedule.Schedule, error) {
	var s schedule.Schedule
	raw, _ := item["schedule"].(*ddbtypes.AttributeValueMemberS)
	if raw == nil {
		return s, bulkerr.New(bulkerr.Internal, "schedule item without a body")
	}
	// Items written before the state attributes existed hold the whole
	// schedule in the body; the attributes, when present, win.
	if err := json.Unmarshal([]byte(raw.Value), &s); err != nil {
		return s, bulkerr.Wrap(bulkerr.Internal, err, "decoding a schedule")
	}
	s.Tenant = tenant
	if pk, ok := item["pk"].(*ddbtypes.AttributeValueMemberS); ok && tenant == "" {
		s.Tenant = strings.TrimPrefix(pk.Value, "SCHED#")
	}
	// nextRun, when present, is the authority (the claim moves it).
	s.NextRun = time.Time{}
	if ms, ok := schedNum(item, "nextRun"); ok {
		s.NextRun = time.UnixMilli(ms).UTC()
	}
	if ms, ok := schedNum(item, "lastRun"); ok {
		t := time.UnixMilli(ms).UTC()
		s.LastRun = &t
	}
	if v, ok := item["active"].(*ddbtypes.AttributeValueMemberBOOL); ok {
		s.Active = v.Value
	}
	if v, ok := item["submitted"].(*ddbtypes.AttributeValueMemberBOOL); ok {
		s.Submitted = v.Value
	}
	if v, ok := schedNum(item, "failures"); ok {
		s.Failures = int(v)
	}
	if v, ok := schedNum(item, "version"); ok {
		s.Version = v
	}
	s.LastJob = schedStr(item, "lastJob")
	s.RunningJob = schedStr(item, "runningJob")
	s.SuspendedReason = schedStr(item, "suspendedReason")
	s.HighWater = schedTime(item, "highWater")
	s.UpdatedAt = schedTime(item, "updatedAt")
	return s, nil
}

func schedNum(item map[string]ddbtypes.AttributeValue, name string) (int64, bool) {
	v, ok := item[name].(*ddbtypes.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(v.Value, 10, 64)
	return i, err == nil
}

func schedStr(item map[string]ddbtypes.AttributeValue, name string) string {
	if v, ok := item[name].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func schedTime(item map[string]ddbtypes.AttributeValue, name string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, schedStr(item, name))
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// GetSchedule returns one schedule of tenant, or NotFound.
func (st *Store) GetSchedule(ctx context.Context, tenant, id string) (schedule.Schedule, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.tables.Control, Key: scheduleKey(tenant, id), ConsistentRead: consistent})
	if err != nil {
		return schedule.Schedule{}, classify(err, "reading schedule %s", id)
	}
	if out.Item == nil {
		return schedule.Schedule{}, bulkerr.New(bulkerr.NotFound, "schedule %s not found", id)
	}
	return decodeSchedule(tenant, out.Item)
}

// ListSchedules returns every schedule of tenant by ID (IDs are ULIDs, so
// in creation order), with one Query (followed page by page past 1 MB).
func (st *Store) ListSchedules(ctx context.Context, tenant string) ([]schedule.Schedule, error) {
	in := &dynamodb.QueryInput{
		TableName:                 &st.tables.Control,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": s("SCHED#" + tenant)},
		ConsistentRead:            consistent,
	}
	list := []schedule.Schedule{}
	for {
		out, err := st.db.Query(ctx, in)
		if err != nil {
			return nil, classify(err, "listing the schedules of tenant %s", tenant)
		}
		for _, it := range out.Items {
			sc, err := decodeSchedule(tenant, it)
			if err != nil {
				return nil, err
			}
			list = append(list, sc)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return list, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// versionCondition is the condition that the stored version is v (items
// written before versions existed count as version 0).
func versionCondition(v int64, values map[string]ddbtypes.AttributeValue) string {
	if v == 0 {
		return "attribute_not_exists(version)"
	}
	values[":ver"] = n(v)
	return "version = :ver"
}

// UpdateSchedule replaces the definition of s (title, description, object
// types, prefix, when, options, maxFailures) and its next run (and with it
// its entry in the due index, when the stored schedule is active) if the
// stored version is s.Version; it bumps Version and sets UpdatedAt. It
// fails with Conflict when the schedule changed since it was read, while a
// run is in progress and for a once schedule whose run was submitted;
// with NotFound when it does not exist.
func (st *Store) UpdateSchedule(ctx context.Context, s schedule.Schedule) error {
	if err := s.Check(); err != nil {
		return err
	}
	cur, err := st.GetSchedule(ctx, s.Tenant, s.ID)
	if err != nil {
		return err
	}
	if err := cur.CanEdit(s.Version); err != nil {
		return err
	}
	body, err := encodeBody(schedule.Schedule{ID: s.ID, Definition: s.Definition, CreatedBy: cur.CreatedBy, CreatedAt: cur.CreatedAt})
	if err != nil {
		return err
	}
	values := map[string]ddbtypes.AttributeValue{
		":body": body, ":one": n(1), ":at": timeAV(st.now()), ":t": boolAV(true),
	}
	// The conditions of cur.CanEdit, as one condition of the write (its
	// error is CanEdit's, below). Every change of active bumps the
	// version, so the stored active read above still holds when the
	// version condition does.
	cond := versionCondition(cur.Version, values) + " AND attribute_not_exists(runningJob) AND (attribute_not_exists(submitted) OR submitted <> :t)"
	set := "SET #sc = :body, version = if_not_exists(version, :zero) + :one, updatedAt = :at"
	values[":zero"] = n(0)
	var remove []string
	if !cur.KeepsHighWater(s.Definition) {
		remove = append(remove, "highWater")
	}
	switch {
	case s.NextRun.IsZero():
		remove = append(remove, "nextRun", "dueShard")
	case cur.Active:
		set += ", nextRun = :next, dueShard = :due"
		values[":next"], values[":due"] = n(s.NextRun.UnixMilli()), s2(dueShard)
	default:
		set += ", nextRun = :next"
		values[":next"] = n(s.NextRun.UnixMilli())
		remove = append(remove, "dueShard")
	}
	expr := set
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	_, err = st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.tables.Control, Key: scheduleKey(s.Tenant, s.ID),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: map[string]string{"#sc": "schedule"}, ExpressionAttributeValues: values,
	})
	if isConditionFailed(err) {
		now, gerr := st.GetSchedule(ctx, s.Tenant, s.ID)
		if gerr != nil {
			return gerr
		}
		if eerr := now.CanEdit(s.Version); eerr != nil {
			return eerr
		}
		return bulkerr.New(bulkerr.Conflict, "schedule %s changed while it was being saved; reload it and retry", s.ID)
	}
	return classify(err, "updating schedule %s", s.ID)
}

// DeleteSchedule deletes a schedule (its run history expires on its own).
// It fails with NotFound when it does not exist and with Conflict while a
// run is in progress.
func (st *Store) DeleteSchedule(ctx context.Context, tenant, id string) error {
	_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &st.tables.Control, Key: scheduleKey(tenant, id),
		// schedule.CanDelete as a condition; its error is CanDelete's.
		ConditionExpression: aws.String("attribute_exists(pk) AND attribute_not_exists(runningJob)"),
	})
	if isConditionFailed(err) {
		cur, gerr := st.GetSchedule(ctx, tenant, id)
		if gerr != nil {
			return gerr
		}
		if err := cur.CanDelete(); err != nil {
			return err
		}
		return bulkerr.New(bulkerr.Conflict, "schedule %s changed while it was being deleted; retry", id)
	}
	return classify(err, "deleting schedule %s", id)
}

// SetScheduleActive suspends (active false: the schedule leaves the due
// index and reason is stored) or resumes a schedule (active true: next is
// its next run, computed by the caller, a zero next leaving it out of the
// due index; failures are reset and the reason cleared). Either bumps
// Version. A non-zero version must be the stored one (the caller computed
// next from that version's definition); otherwise it is a Conflict. It
// returns the stored schedule, or NotFound.
func (st *Store) SetScheduleActive(ctx context.Context, tenant, id string, version int64, active bool, next time.Time, reason string) (schedule.Schedule, error) {
	values := map[string]ddbtypes.AttributeValue{
		":act": boolAV(active), ":one": n(1), ":zero": n(0), ":at": timeAV(st.now()),
	}
	expr := "SET active = :act, version = if_not_exists(version, :zero) + :one, updatedAt = :at"
	switch {
	case !active:
		expr += ", suspendedReason = :r REMOVE dueShard, nextRun"
		if reason == "" {
			reason = schedule.ReasonSuspended
		}
		values[":r"] = s2(reason)
	case next.IsZero():
		expr += ", failures = :zero REMOVE suspendedReason, dueShard, nextRun"
	default:
		expr += ", failures = :zero, nextRun = :next, dueShard = :due REMOVE suspendedReason"
		values[":next"], values[":due"] = n(next.UnixMilli()), s2(dueShard)
	}
	cond := "attribute_exists(pk)"
	if version != 0 {
		cond += " AND version = :v"
		values[":v"] = n(version)
	}
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.tables.Control, Key: scheduleKey(tenant, id),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String(cond),
		ExpressionAttributeValues: values, ReturnValues: ddbtypes.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		if _, gerr := st.GetSchedule(ctx, tenant, id); gerr != nil {
			return schedule.Schedule{}, gerr
		}
		return schedule.Schedule{}, bulkerr.New(bulkerr.Conflict, "schedule %s was changed meanwhile (it is no longer at version %d); reload it and try again", id, version)
	}
	if err != nil {
		verb := "suspending"
		if active {
			verb = "resuming"
		}
		return schedule.Schedule{}, classify(err, "%s schedule %s", verb, id)
	}
	return decodeSchedule(tenant, out.Attributes)
}

// DueSchedules returns active schedules whose next run is at or before now,
// earliest first, with one Query of the "due" index (at most limit). The
// index is eventually consistent: ClaimRun decides.
func (st *Store) DueSchedules(ctx context.Context, now time.Time, limit int32) ([]schedule.Schedule, error) {
	var list []schedule.Schedule
	var start map[string]ddbtypes.AttributeValue
	for int32(len(list)) < limit { // pages, so runs that stay due cannot hide the rest
		out, err := st.db.Query(ctx, &dynamodb.QueryInput{
			TableName: &st.tables.Control, IndexName: aws.String("due"),
			KeyConditionExpression:    aws.String("dueShard = :d AND nextRun <= :now"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":d": s2(dueShard), ":now": n(now.UnixMilli())},
			Limit:                     aws.Int32(limit - int32(len(list))),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, classify(err, "finding due schedules")
		}
		list = append(list, decodeSchedules(out.Items)...)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	return list, nil
}

// decodeSchedules decodes index items; an item that does not decode is
// left out, so one damaged schedule never stops the dispatcher for all.
func decodeSchedules(items []map[string]ddbtypes.AttributeValue) []schedule.Schedule {
	list := make([]schedule.Schedule, 0, len(items))
	for _, it := range items {
		if s, err := decodeSchedule("", it); err == nil {
			list = append(list, s)
		}
	}
	return list
}

// RunningSchedules returns schedules whose run has been in progress since
// before since, oldest first, with one Query of the sparse "running" index
// (at most limit): the dispatcher settles those whose export died. The
// index is eventually consistent; callers re-read the schedule.
func (st *Store) RunningSchedules(ctx context.Context, since time.Time, limit int32) ([]schedule.Schedule, error) {
	out, err := st.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &st.tables.Control, IndexName: aws.String("running"),
		KeyConditionExpression:    aws.String("runningShard = :r AND runningSince <= :since"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":r": s2(runningShard), ":since": n(since.UnixMilli())},
		Limit:                     aws.Int32(limit),
	})
	if err != nil {
		return nil, classify(err, "finding schedules with a run in progress")
	}
	return decodeSchedules(out.Items), nil
}

// ClaimRun takes the run of schedule id planned for planned, by one
// conditional write: the schedule must still be due at planned (active,
// nextRun unchanged) and have no run in progress. It moves nextRun to
// following (or, when there is no more run, as for a once schedule, takes
// it out of the due index and marks it Submitted) and records job as the
// running and the last job. Of overlapping dispatcher ticks exactly one
// claims a run; the others get false, as does a schedule whose previous
// run has not finished (FinishRun).
func (st *Store) ClaimRun(ctx context.Context, tenant, id string, planned, following time.Time, more bool, job string) (bool, error) {
	in := &dynamodb.UpdateItemInput{
		TableName:           &st.tables.Control,
		Key:                 scheduleKey(tenant, id),
		ConditionExpression: aws.String("nextRun = :planned AND attribute_exists(dueShard) AND active = :true AND attribute_not_exists(runningJob)"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":planned": n(planned.UnixMilli()), ":job": s2(job), ":last": n(planned.UnixMilli()), ":true": boolAV(true),
		},
	}
	// runningShard/runningSince put the run in the sparse "running" index
	// until FinishRun, where the dispatcher finds it if its export dies.
	in.ExpressionAttributeValues[":rs"] = s2(runningShard)
	in.ExpressionAttributeValues[":since"] = n(st.now().UnixMilli())
	if more {
		in.UpdateExpression = aws.String("SET nextRun = :next, lastJob = :job, lastRun = :last, runningJob = :job, runningShard = :rs, runningSince = :since")
		in.ExpressionAttributeValues[":next"] = n(following.UnixMilli())
	} else {
		in.UpdateExpression = aws.String("SET lastJob = :job, lastRun = :last, runningJob = :job, runningShard = :rs, runningSince = :since, submitted = :t REMOVE nextRun, dueShard")
		in.ExpressionAttributeValues[":t"] = boolAV(true)
	}
	_, err := st.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, classify(err, "claiming a run of schedule %s", id)
	}
	return true, nil
}

// FinishRun ends the run of job (the schedule's RunningJob): a successful
// run (ok) resets the consecutive failures and moves the high-water mark
// up to highWater (never down); a failed one counts a failure, and the
// schedule suspends itself (inactive, out of the due index, with
// schedule.SuspendReason) when schedule.SuspendsAfter says the failures
// reach its limit.
// When job is not the running job (the run was finished before, or never
// claimed) nothing changes: a repeated call is harmless. It returns the
// stored schedule, or NotFound.
func (st *Store) FinishRun(ctx context.Context, tenant, id, job string, ok bool, highWater time.Time, reason string) (schedule.Schedule, error) {
	for range maxStateRetries {
		cur, err := st.GetSchedule(ctx, tenant, id)
		if err != nil || cur.RunningJob != job || job == "" {
			return cur, err
		}
		values := map[string]ddbtypes.AttributeValue{
			":job": s2(job), ":f": n(int64(cur.Failures)),
		}
		cond := "runningJob = :job AND active = :act AND " + failuresCondition(cur.Failures, values)
		values[":act"] = boolAV(cur.Active)
		var expr string
		if ok {
			expr = "SET failures = :zero"
			values[":zero"] = n(0)
			if highWater.After(cur.HighWater) {
				expr += ", highWater = :hw"
				values[":hw"] = timeAV(highWater)
			}
			expr += " REMOVE runningJob, runningShard, runningSince"
		} else {
			failures := cur.Failures + 1
			values[":nf"] = n(int64(failures))
			expr = "SET failures = :nf"
			if cur.SuspendsAfter(failures) {
				expr += ", active = :false, suspendedReason = :r, version = if_not_exists(version, :zero) + :one, updatedAt = :at REMOVE runningJob, runningShard, runningSince, dueShard, nextRun"
				values[":false"], values[":zero"], values[":one"], values[":at"] = boolAV(false), n(0), n(1), timeAV(st.now())
				values[":r"] = s2(schedule.SuspendReason(failures, reason))
			} else {
				expr += " REMOVE runningJob, runningShard, runningSince"
			}
		}
		out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &st.tables.Control, Key: scheduleKey(tenant, id),
			UpdateExpression: aws.String(expr), ConditionExpression: aws.String(cond),
			ExpressionAttributeValues: values, ReturnValues: ddbtypes.ReturnValueAllNew,
		})
		if isConditionFailed(err) {
			continue // another change came between: read again
		}
		if err != nil {
			return schedule.Schedule{}, classify(err, "finishing the run %s of schedule %s", job, id)
		}
		return decodeSchedule(tenant, out.Attributes)
	}
	return schedule.Schedule{}, bulkerr.New(bulkerr.Transient, "finishing the run %s of schedule %s: the schedule kept changing; retry", job, id)
}

// EndCancelledRun ends the run job of schedule id, whose export an
// administrator cancelled: the run is no longer in progress, and neither a
// failure is counted nor the high-water mark moved (the next incremental
// run exports the cancelled run's objects again). A run that is not the
// schedule's running one is left alone.
func (st *Store) EndCancelledRun(ctx context.Context, tenant, id, job string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.tables.Control, Key: scheduleKey(tenant, id),
		UpdateExpression:          aws.String("REMOVE runningJob, runningShard, runningSince"),
		ConditionExpression:       aws.String("runningJob = :job"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":job": s2(job)},
	})
	if isConditionFailed(err) {
		return nil
	}
	return classify(err, "ending the cancelled run %s of schedule %s", job, id)
}

func failuresCondition(f int, values map[string]ddbtypes.AttributeValue) string {
	if f == 0 {
		return "(attribute_not_exists(failures) OR failures = :f)"
	}
	return "failures = :f"
}

func runKey(tenant, schedule, job string) map[string]ddbtypes.AttributeValue {
	return key("SCHEDRUN#"+tenant+"#"+schedule, job)
}

// RecordRun adds a run to its schedule's history, kept RunRetention (TTL
// attribute expiresAt). Recording the same job again replaces the entry.
func (st *Store) RecordRun(ctx context.Context, r schedule.Run) error {
	if err := r.Check(); err != nil {
		return err
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "encoding run %s of schedule %s", r.JobID, r.ScheduleID)
	}
	item := runKey(r.Tenant, r.ScheduleID, r.JobID)
	item["run"] = s2(string(raw))
	item["expiresAt"] = n(st.now().Add(schedule.RunRetention).Unix())
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.tables.Control, Item: item})
	return classify(err, "recording run %s of schedule %s", r.JobID, r.ScheduleID)
}

// ListRuns returns up to limit (1 to 1000; otherwise 100) runs of a
// schedule, newest first (job IDs are ULIDs), leaving out expired entries
// that DynamoDB has not removed yet.
func (st *Store) ListRuns(ctx context.Context, tenant, scheduleID string, limit int32) ([]schedule.Run, error) {
	runs, _, err := st.PageRuns(ctx, tenant, scheduleID, "", limit)
	return runs, err
}

// PageRuns returns one page of up to limit (1 to 1000; otherwise 100) runs
// of a schedule, newest first, after the run of job after ("" for the
// first page), and the job ID to pass as after for the next page ("" when
// there is none). Expired entries that DynamoDB has not removed yet are
// left out.
func (st *Store) PageRuns(ctx context.Context, tenant, scheduleID, after string, limit int32) ([]schedule.Run, string, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	in := &dynamodb.QueryInput{
		TableName:              &st.tables.Control,
		KeyConditionExpression: aws.String("pk = :pk"),
		FilterExpression:       aws.String("attribute_not_exists(expiresAt) OR expiresAt > :now"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":pk": s("SCHEDRUN#" + tenant + "#" + scheduleID), ":now": n(st.now().Unix()),
		},
		ScanIndexForward: aws.Bool(false),
		// One more than a page, to know whether another page follows.
		Limit: aws.Int32(limit + 1),
	}
	if after != "" {
		in.ExclusiveStartKey = runKey(tenant, scheduleID, after)
	}
	runs := []schedule.Run{}
	for {
		out, err := st.db.Query(ctx, in)
		if err != nil {
			return nil, "", classify(err, "listing the runs of schedule %s", scheduleID)
		}
		for _, it := range out.Items {
			if int32(len(runs)) == limit {
				return runs, runs[len(runs)-1].JobID, nil
			}
			var r schedule.Run
			if err := json.Unmarshal([]byte(schedStr(it, "run")), &r); err != nil {
				return nil, "", bulkerr.Wrap(bulkerr.Internal, err, "decoding a run of schedule %s", scheduleID)
			}
			r.Tenant, r.ScheduleID = tenant, scheduleID
			runs = append(runs, r)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return runs, "", nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
