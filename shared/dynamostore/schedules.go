package dynamostore

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// Schedule is a tenant's scheduled export (item pk "SCHED#<tenant>", sk
// the schedule ID, in the control table). An active schedule with a next
// run carries dueShard, which puts it in the sparse "due" index.
type Schedule struct {
	Tenant      string        `json:"-"`
	ID          string        `json:"id"`
	Title       string        `json:"title"`
	Description string        `json:"description,omitempty"`
	ObjectTypes []string      `json:"objectTypes"`
	Prefix      string        `json:"prefix,omitempty"`
	Spec        schedule.Spec `json:"when"`
	Active      bool          `json:"active"`
	// NextRun is the next planned run; zero when there is none.
	NextRun   time.Time  `json:"nextRun,omitzero"`
	LastRun   *time.Time `json:"lastRun,omitempty"`
	LastJob   string     `json:"lastJob,omitempty"`
	CreatedBy string     `json:"createdBy"`
	CreatedAt time.Time  `json:"createdAt"`
}

// dueShard is the one partition of the "due" index.
const dueShard = "due"

func scheduleKey(tenant, id string) map[string]ddbtypes.AttributeValue {
	return key("SCHED#"+tenant, id)
}

// PutSchedule creates s; it fails with Conflict if the ID exists.
func (st *Store) PutSchedule(ctx context.Context, s Schedule) error {
	body, err := json.Marshal(s)
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "encoding schedule %s", s.ID)
	}
	item := scheduleKey(s.Tenant, s.ID)
	item["schedule"] = &ddbtypes.AttributeValueMemberS{Value: string(body)}
	if s.Active && !s.NextRun.IsZero() {
		item["dueShard"] = s2(dueShard)
		item["nextRun"] = n(s.NextRun.UnixMilli())
	}
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &st.tables.Control, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if isConditionFailed(err) {
		return bulkerr.New(bulkerr.Conflict, "schedule %s already exists", s.ID)
	}
	return classify(err, "creating schedule %s", s.ID)
}

func s2(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }

func decodeSchedule(tenant string, item map[string]ddbtypes.AttributeValue) (Schedule, error) {
	var s Schedule
	raw, _ := item["schedule"].(*ddbtypes.AttributeValueMemberS)
	if raw == nil {
		return s, bulkerr.New(bulkerr.Internal, "schedule item without a body")
	}
	if err := json.Unmarshal([]byte(raw.Value), &s); err != nil {
		return s, bulkerr.Wrap(bulkerr.Internal, err, "decoding a schedule")
	}
	s.Tenant = tenant
	if pk, ok := item["pk"].(*ddbtypes.AttributeValueMemberS); ok && tenant == "" {
		s.Tenant = pk.Value[len("SCHED#"):]
	}
	// nextRun, when present, is the authority (the claim moves it).
	if v, ok := item["nextRun"].(*ddbtypes.AttributeValueMemberN); ok {
		if ms, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
			s.NextRun = time.UnixMilli(ms).UTC()
		}
	} else {
		s.NextRun = time.Time{}
	}
	if v, ok := item["lastJob"].(*ddbtypes.AttributeValueMemberS); ok {
		s.LastJob = v.Value
	}
	if v, ok := item["lastRun"].(*ddbtypes.AttributeValueMemberN); ok {
		if ms, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
			t := time.UnixMilli(ms).UTC()
			s.LastRun = &t
		}
	}
	return s, nil
}

// GetSchedule returns one schedule of tenant, or NotFound.
func (st *Store) GetSchedule(ctx context.Context, tenant, id string) (Schedule, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.tables.Control, Key: scheduleKey(tenant, id), ConsistentRead: consistent})
	if err != nil {
		return Schedule{}, classify(err, "reading schedule %s", id)
	}
	if out.Item == nil {
		return Schedule{}, bulkerr.New(bulkerr.NotFound, "schedule %s not found", id)
	}
	return decodeSchedule(tenant, out.Item)
}

// DueSchedules returns active schedules whose next run is at or before now,
// earliest first, with one Query of the "due" index (at most limit).
func (st *Store) DueSchedules(ctx context.Context, now time.Time, limit int32) ([]Schedule, error) {
	out, err := st.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &st.tables.Control, IndexName: aws.String("due"),
		KeyConditionExpression:    aws.String("dueShard = :d AND nextRun <= :now"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":d": s2(dueShard), ":now": n(now.UnixMilli())},
		Limit:                     aws.Int32(limit),
	})
	if err != nil {
		return nil, classify(err, "finding due schedules")
	}
	list := make([]Schedule, 0, len(out.Items))
	for _, it := range out.Items {
		s, err := decodeSchedule("", it)
		if err != nil {
			return nil, err
		}
		list = append(list, s)
	}
	return list, nil
}

// ClaimRun takes the run of schedule id planned for planned, by one
// conditional write on nextRun: it moves nextRun to following (or out of
// the due index when there is no more run) and records the job. Of
// overlapping dispatcher ticks exactly one claims a run; the others get
// false.
func (st *Store) ClaimRun(ctx context.Context, tenant, id string, planned, following time.Time, more bool, job string) (bool, error) {
	in := &dynamodb.UpdateItemInput{
		TableName:           &st.tables.Control,
		Key:                 scheduleKey(tenant, id),
		ConditionExpression: aws.String("nextRun = :planned"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":planned": n(planned.UnixMilli()), ":job": s2(job), ":last": n(planned.UnixMilli()),
		},
	}
	if more {
		in.UpdateExpression = aws.String("SET nextRun = :next, lastJob = :job, lastRun = :last")
		in.ExpressionAttributeValues[":next"] = n(following.UnixMilli())
	} else {
		in.UpdateExpression = aws.String("SET lastJob = :job, lastRun = :last REMOVE nextRun, dueShard")
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
