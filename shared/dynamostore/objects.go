package dynamostore

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/exportspec"
)

// objectItem is a configuration object as stored in the objects table.
type objectItem struct {
	PK        string            `dynamodbav:"pk"`
	SK        string            `dynamodbav:"sk"`
	Type      string            `dynamodbav:"type"`
	ID        string            `dynamodbav:"id"`
	Name      string            `dynamodbav:"name"`
	Fields    map[string]string `dynamodbav:"fields"`
	Version   int64             `dynamodbav:"version"`
	CreatedAt time.Time         `dynamodbav:"createdAt"`
	UpdatedAt time.Time         `dynamodbav:"updatedAt"`
	JobID     string            `dynamodbav:"jobId"`
}

func objectPK(tenant, typ string) string { return tenant + "#" + typ }

// ObjectItem is o of tenant as an item of the objects table, exactly as the
// store writes it (version, times and job as o has them). Bulk loaders that
// bypass the store's conditional writes (the export benchmark) use it so
// they never keep a second copy of the layout.
func ObjectItem(tenant string, o catalog.Object) (map[string]ddbtypes.AttributeValue, error) {
	item := objectItem{
		PK: objectPK(tenant, o.Type), SK: o.Key, Type: o.Type, ID: o.ID, Name: o.Name,
		Fields: o.Fields, Version: o.Version, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, JobID: o.JobID,
	}
	if item.Fields == nil {
		item.Fields = map[string]string{}
	}
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return nil, bulkerr.Wrap(bulkerr.Internal, err, "encoding object %s", o.Key)
	}
	return av, nil
}

func (it objectItem) object() catalog.Object {
	return catalog.Object{
		Type: it.Type, Key: it.SK, ID: it.ID, Name: it.Name, Fields: it.Fields, Version: it.Version,
		CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, JobID: it.JobID,
	}
}

// Objects is the object store of one tenant. Every read and write is confined
// to the tenant's partition keys, whatever a CSV names.
type Objects struct {
	st     *Store
	tenant string
}

// Objects returns tenant's object store.
func (st *Store) Objects(tenant string) *Objects { return &Objects{st: st, tenant: tenant} }

// batchGetMax is DynamoDB's BatchGetItem limit.
const batchGetMax = 100

// GetObjects returns the stored objects of type typ whose keys are in keys,
// by key; keys not stored are absent. It reads in batches of 100 keys and
// retries unprocessed keys.
func (o *Objects) GetObjects(ctx context.Context, typ string, keys []string) (map[string]catalog.Object, error) {
	found := make(map[string]catalog.Object, len(keys))
	seen := make(map[string]bool, len(keys))
	var uniq []string
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			uniq = append(uniq, k)
		}
	}
	pk := objectPK(o.tenant, typ)
	for start := 0; start < len(uniq); start += batchGetMax {
		batch := uniq[start:min(start+batchGetMax, len(uniq))]
		req := make([]map[string]ddbtypes.AttributeValue, len(batch))
		for i, k := range batch {
			req[i] = key(pk, k)
		}
		pending := map[string]ddbtypes.KeysAndAttributes{
			o.st.tables.Objects: {Keys: req, ConsistentRead: consistent},
		}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 8 {
				return nil, bulkerr.New(bulkerr.Transient, "reading %s objects: the database kept throttling", typ)
			}
			if attempt > 0 {
				if err := sleep(ctx, backoff(attempt)); err != nil {
					return nil, err
				}
			}
			out, err := o.st.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, classify(err, "reading %s objects", typ)
			}
			var items []objectItem
			if err := attributevalue.UnmarshalListOfMaps(out.Responses[o.st.tables.Objects], &items); err != nil {
				return nil, bulkerr.Wrap(bulkerr.Internal, err, "decoding %s objects", typ)
			}
			for _, it := range items {
				found[it.SK] = it.object()
			}
			pending = out.UnprocessedKeys
		}
	}
	return found, nil
}

// Write is one planned object write of a job.
type Write struct {
	// Object is the new state. Its ID must be set (new ID on create, the
	// stored ID on update).
	Object catalog.Object
	// PrevVersion is the stored version the write replaces; 0 for create.
	PrevVersion int64
}

// WriteResult says what happened to one Write.
type WriteResult int

// Write results.
const (
	// Applied: written now.
	Applied WriteResult = iota
	// AlreadyApplied: this job had written it before (a retried chunk).
	AlreadyApplied
	// Conflicted: the object changed underneath the job (someone else wrote
	// it since it was read); nothing was written.
	Conflicted
)

// Apply performs writes for job, each a conditional put: a create only if
// the key is new, an update only if the stored version is PrevVersion. A
// write that this job already applied (same job, version PrevVersion+1) is
// reported AlreadyApplied and not repeated, so a retried chunk never applies
// a row twice and the version increments once per job per object.
// Results are in the order of writes. concurrency bounds parallel requests.
func (o *Objects) Apply(ctx context.Context, job string, writes []Write, concurrency int) ([]WriteResult, error) {
	results := make([]WriteResult, len(writes))
	errs := make([]error, len(writes))
	if concurrency < 1 {
		concurrency = 1
	}
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	now := o.st.now().UTC()
	for i := range writes {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			results[i], errs[i] = o.apply(ctx, job, writes[i], now)
		}(i)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, bulkerr.Wrap(bulkerr.Transient, err, "writing objects: interrupted")
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return results, nil
}

func (o *Objects) apply(ctx context.Context, job string, w Write, now time.Time) (WriteResult, error) {
	ob := w.Object
	created := ob.CreatedAt
	if w.PrevVersion == 0 || created.IsZero() {
		created = now
	}
	ob.Version, ob.CreatedAt, ob.UpdatedAt, ob.JobID = w.PrevVersion+1, created, now, job
	av, err := ObjectItem(o.tenant, ob)
	if err != nil {
		return 0, err
	}
	in := &dynamodb.PutItemInput{TableName: &o.st.tables.Objects, Item: av}
	if w.PrevVersion == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		in.ConditionExpression = aws.String("version = :prev")
		in.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{":prev": n(w.PrevVersion)}
	}
	_, err = o.st.db.PutItem(ctx, in)
	if err == nil {
		return Applied, nil
	}
	if !isConditionFailed(err) {
		return 0, classify(err, "writing %s %q", ob.Type, ob.Name)
	}
	cur, err := o.GetObjects(ctx, ob.Type, []string{ob.Key})
	if err != nil {
		return 0, err
	}
	if c, ok := cur[ob.Key]; ok && c.JobID == job && c.Version == w.PrevVersion+1 {
		return AlreadyApplied, nil
	}
	return Conflicted, nil
}

func backoff(attempt int) time.Duration {
	d := 50 * time.Millisecond << min(attempt, 6)
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return bulkerr.Wrap(bulkerr.Transient, ctx.Err(), "interrupted")
	case <-t.C:
		return nil
	}
}

// pageItems is the most objects one Query page of Each, EachUpdated and
// Count holds (about 200 KB of typical objects, under DynamoDB's 1 MB page).
// Item-count pages keep reads linear on DynamoDB Local, whose cost per 1 MB
// page grows with what is left of the partition (100,000 objects: 8.7 s in
// 1 MB pages, 3.1 s in pages of 1,000; docs/export-benchmarks.md), and give
// the export a steady cadence for lock extension and progress.
const pageItems = 1000

// Each calls fn with every stored object of type typ, in key order, one
// Query page (up to 1 MB) at a time, so memory does not grow with the
// number of objects.
func (o *Objects) Each(ctx context.Context, typ string, fn func(catalog.Object) error) error {
	var start map[string]ddbtypes.AttributeValue
	for {
		out, err := o.st.db.Query(ctx, &dynamodb.QueryInput{
			Limit:                     aws.Int32(pageItems),
			TableName:                 &o.st.tables.Objects,
			KeyConditionExpression:    aws.String("pk = :p"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":p": s(objectPK(o.tenant, typ))},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return classify(err, "reading %s objects", typ)
		}
		var items []objectItem
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
			return bulkerr.Wrap(bulkerr.Internal, err, "decoding %s objects", typ)
		}
		for _, it := range items {
			if err := fn(it.object()); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}

// updatedSecond is the layout of updatedAt up to the second. updatedAt is
// written by attributevalue's default time encoding, time.RFC3339Nano of a
// UTC time ("2026-11-22T10:00:00Z", "2026-11-22T10:00:00.5Z"): fixed width
// up to the second, so such strings sort by time across seconds, but not
// within one (trailing zeros are dropped and "." sorts before "Z").
const updatedSecond = "2006-01-02T15:04:05"

// updatedBounds are the ByUpdated sort-key bounds that take every object
// written in w: whole seconds, from the second of w.From (its prefix sorts
// before every value of that second and after every earlier one) up to the
// second after that of w.To (exclusive; every value of that second sorts
// at or after its prefix). Empty for an open side. The caller drops the
// objects of the boundary seconds that lie outside w.
func updatedBounds(w exportspec.Window) (lo, hi string) {
	if !w.From.IsZero() {
		lo = w.From.UTC().Format(updatedSecond)
	}
	if !w.To.IsZero() {
		hi = w.To.UTC().Truncate(time.Second).Add(time.Second).Format(updatedSecond)
	}
	return lo, hi
}

// EachUpdated calls fn with every stored object of type typ last written in
// w (From inclusive, To exclusive; a zero side is open), in order of last
// write, one Query page of the ByUpdated index at a time, so memory does
// not grow with the number of objects. The index is eventually consistent:
// a write of the last moments may be missing.
func (o *Objects) EachUpdated(ctx context.Context, typ string, w exportspec.Window, fn func(catalog.Object) error) error {
	if !w.From.IsZero() && !w.To.IsZero() && !w.To.After(w.From) {
		return nil // an empty window
	}
	cond := "pk = :p"
	vals := map[string]ddbtypes.AttributeValue{":p": s(objectPK(o.tenant, typ))}
	lo, hi := updatedBounds(w)
	switch {
	case lo != "" && hi != "":
		cond += " AND updatedAt BETWEEN :lo AND :hi" // no stored value equals hi: they end in Z
		vals[":lo"], vals[":hi"] = s(lo), s(hi)
	case lo != "":
		cond += " AND updatedAt >= :lo"
		vals[":lo"] = s(lo)
	case hi != "":
		cond += " AND updatedAt < :hi"
		vals[":hi"] = s(hi)
	}
	var start map[string]ddbtypes.AttributeValue
	for {
		out, err := o.st.db.Query(ctx, &dynamodb.QueryInput{
			Limit:                     aws.Int32(pageItems),
			TableName:                 &o.st.tables.Objects,
			IndexName:                 aws.String("ByUpdated"),
			KeyConditionExpression:    aws.String(cond),
			ExpressionAttributeValues: vals,
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return classify(err, "reading %s objects written in the window", typ)
		}
		var items []objectItem
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
			return bulkerr.Wrap(bulkerr.Internal, err, "decoding %s objects", typ)
		}
		for _, it := range items {
			if !w.Contains(it.UpdatedAt) {
				continue // the boundary seconds' other objects
			}
			if err := fn(it.object()); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}

// Count returns how many objects of type typ are stored.
func (o *Objects) Count(ctx context.Context, typ string) (int, error) {
	n := 0
	var start map[string]ddbtypes.AttributeValue
	for {
		out, err := o.st.db.Query(ctx, &dynamodb.QueryInput{
			Limit:                     aws.Int32(pageItems),
			TableName:                 &o.st.tables.Objects,
			KeyConditionExpression:    aws.String("pk = :p"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":p": s(objectPK(o.tenant, typ))},
			Select:                    ddbtypes.SelectCount,
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return 0, classify(err, "counting %s objects", typ)
		}
		n += int(out.Count)
		if len(out.LastEvaluatedKey) == 0 {
			return n, nil
		}
		start = out.LastEvaluatedKey
	}
}
