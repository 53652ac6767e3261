package dynamostore

import (
	"context"
	"strings"
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

// objectItem is a configuration object as stored in the objects table:
// pk = "<tenant>#<type>#<shard>" (shards.go), sk = the natural key.
type objectItem struct {
	PK        string            `dynamodbav:"pk"`
	SK        string            `dynamodbav:"sk"`
	Type      string            `dynamodbav:"type"`
	ID        string            `dynamodbav:"id"`
	Name      string            `dynamodbav:"name"`
	Fields    map[string]string `dynamodbav:"fields"`
	Version   int64             `dynamodbav:"version"`
	CreatedAt stamp             `dynamodbav:"createdAt"`
	UpdatedAt stamp             `dynamodbav:"updatedAt"`
	JobID     string            `dynamodbav:"jobId"`
}

// ObjectItem is o of tenant as an item of the objects table, exactly as the
// store writes it (shard, version, times and job as o has them). Bulk
// loaders that bypass the store's conditional writes (the benchmarks) use
// it so they never keep a second copy of the layout.
func ObjectItem(tenant string, o catalog.Object) (map[string]ddbtypes.AttributeValue, error) {
	item := objectItem{
		PK: keyPK(tenant, o.Type, o.Key), SK: o.Key, Type: o.Type, ID: o.ID, Name: o.Name,
		Fields: o.Fields, Version: o.Version, CreatedAt: stamp(o.CreatedAt), UpdatedAt: stamp(o.UpdatedAt), JobID: o.JobID,
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
		CreatedAt: time.Time(it.CreatedAt).UTC(), UpdatedAt: time.Time(it.UpdatedAt).UTC(), JobID: it.JobID,
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
// by key; keys not stored are absent. It reads in batches of 100 keys (one
// BatchGetItem for up to 100 objects, whatever their shards) and retries
// unprocessed keys.
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
	for start := 0; start < len(uniq); start += batchGetMax {
		batch := uniq[start:min(start+batchGetMax, len(uniq))]
		req := make([]map[string]ddbtypes.AttributeValue, len(batch))
		for i, k := range batch {
			req[i] = key(keyPK(o.tenant, typ, k), k)
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

// Apply performs writes for job, each a conditional put: a create only if
// the key is new, an update only if the stored version is PrevVersion. A
// write that this job already applied (same job, version PrevVersion+1) is
// reported AlreadyApplied and not repeated, so a retried chunk never applies
// a row twice and the version increments once per job per object.
// Results are in the order of writes. concurrency bounds parallel requests.
//
// Each object's updatedAt is its own write time, taken from the store's
// clock as the write is made ready (on the fenced path: again as its wave
// is sent, after the wave's fence check, so the object lands within
// FenceWindow of its stamp), strictly increasing in the order of writes (a
// clock that has not moved on gives the next nanosecond), so an
// incremental export's window is exact and no two writes of a chunk share
// a time. The store's write path (WithWritePath) decides how the
// puts are sent; the conditional paths apply the same conditions, the
// fenced path (WriteFenced) writes only while job holds tenant's lock and
// reports every write Applied.
func (o *Objects) Apply(ctx context.Context, job string, writes []catalog.Write, concurrency int) ([]catalog.WriteResult, error) {
	if concurrency < 1 {
		concurrency = 1
	}
	puts := make([]preparedPut, len(writes))
	var last time.Time
	for i, w := range writes {
		now := o.nextStamp(last)
		last = now
		p, err := o.prepare(job, w, now)
		if err != nil {
			return nil, err
		}
		puts[i] = p
	}
	var results []catalog.WriteResult
	var err error
	switch o.st.writePath {
	case WriteTransact:
		results, err = o.applyTransact(ctx, job, puts, concurrency)
	case WriteStatements:
		results, err = o.applyStatements(ctx, job, puts, concurrency)
	case WriteFenced:
		results, err = o.applyFenced(ctx, job, puts, concurrency)
	default:
		results, err = o.applyEach(ctx, job, puts, concurrency)
	}
	if cerr := ctx.Err(); cerr != nil {
		return nil, bulkerr.Wrap(bulkerr.Transient, cerr, "writing objects: interrupted")
	}
	return results, err
}

// nextStamp is the store's time for the next write after one stamped
// last: strictly later (the next nanosecond when the clock has not moved
// on), so the writes of a chunk never share an updatedAt.
func (o *Objects) nextStamp(last time.Time) time.Time {
	now := o.st.now().UTC()
	if !now.After(last) {
		now = last.Add(time.Nanosecond)
	}
	return now
}

// preparedPut is one Write as a conditional put.
type preparedPut struct {
	obj  catalog.Object // the state written (version, times, job set)
	prev int64
	put  *ddbtypes.Put
}

// prepare turns w into the conditional put of job at now.
func (o *Objects) prepare(job string, w catalog.Write, now time.Time) (preparedPut, error) {
	ob := w.Object
	created := ob.CreatedAt
	if w.PrevVersion == 0 || created.IsZero() {
		created = now
	}
	ob.Version, ob.CreatedAt, ob.UpdatedAt, ob.JobID = w.PrevVersion+1, created, now, job
	av, err := ObjectItem(o.tenant, ob)
	if err != nil {
		return preparedPut{}, err
	}
	put := &ddbtypes.Put{TableName: &o.st.tables.Objects, Item: av}
	if w.PrevVersion == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		put.ConditionExpression = aws.String("version = :prev")
		put.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{":prev": n(w.PrevVersion)}
	}
	return preparedPut{obj: ob, prev: w.PrevVersion, put: put}, nil
}

// applyEach sends every put as its own PutItem, concurrency at a time.
func (o *Objects) applyEach(ctx context.Context, job string, puts []preparedPut, concurrency int) ([]catalog.WriteResult, error) {
	results := make([]catalog.WriteResult, len(puts))
	errs := make([]error, len(puts))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i := range puts {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			results[i], errs[i] = o.putOne(ctx, job, puts[i])
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return results, nil
}

func (o *Objects) putOne(ctx context.Context, job string, p preparedPut) (catalog.WriteResult, error) {
	_, err := o.st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: p.put.TableName, Item: p.put.Item,
		ConditionExpression: p.put.ConditionExpression, ExpressionAttributeValues: p.put.ExpressionAttributeValues,
	})
	if err == nil {
		return catalog.Applied, nil
	}
	if !isConditionFailed(err) {
		return 0, classify(err, "writing %s %q", p.obj.Type, p.obj.Name)
	}
	return o.afterConditionFailed(ctx, job, []preparedPut{p}, []int{0}, make([]catalog.WriteResult, 1))
}

// afterConditionFailed decides, for the puts at idx whose condition failed,
// whether this job had written them before (AlreadyApplied) or someone else
// changed them (Conflicted), with consistent BatchGetItems (one per 100 of
// a type), and records it in res. It returns res[idx[0]] for the
// single-put caller.
func (o *Objects) afterConditionFailed(ctx context.Context, job string, puts []preparedPut, idx []int, res []catalog.WriteResult) (catalog.WriteResult, error) {
	if len(idx) == 0 {
		return 0, nil
	}
	byType := map[string][]string{}
	for _, k := range idx {
		byType[puts[k].obj.Type] = append(byType[puts[k].obj.Type], puts[k].obj.Key)
	}
	cur := map[string]map[string]catalog.Object{}
	for typ, keys := range byType {
		got, err := o.GetObjects(ctx, typ, keys)
		if err != nil {
			return 0, err
		}
		cur[typ] = got
	}
	for _, k := range idx {
		p := puts[k]
		if c, ok := cur[p.obj.Type][p.obj.Key]; ok && c.JobID == job && c.Version == p.prev+1 {
			res[k] = catalog.AlreadyApplied
		} else {
			res[k] = catalog.Conflicted
		}
	}
	return res[idx[0]], nil
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

// defaultPageItems is the most objects one Query page of a shard reads in
// Each, EachUpdated (before its filter) and Count (twice as many). Item-count
// pages keep reads linear on DynamoDB Local, whose cost per 1 MB page grows
// with what is left of the partition (docs/export-benchmarks.md), and bound
// memory: the merge holds at most two pages of each of the Shards shards.
const defaultPageItems = 500

// WithPageItems returns a store that shares st's client, tables, clock and
// write path and reads listings in Query pages of n items a shard (n < 1:
// the default, 500). Tests use small pages to cross page boundaries.
func (st *Store) WithPageItems(n int) *Store {
	c := *st
	c.pageItems = int32(min(max(n, 0), 1<<20))
	return &c
}

// page is st's Query page size.
func (st *Store) page() int32 {
	if st.pageItems > 0 {
		return st.pageItems
	}
	return defaultPageItems
}

// Each calls fn with every stored object of type typ, in key order: the
// shards are read in parallel, a Query page at a time each, and merged by
// key, so the order is the same however the objects are spread and memory
// does not grow with the number of objects.
func (o *Objects) Each(ctx context.Context, typ string, fn func(catalog.Object) error) error {
	q := func(pk string, start map[string]ddbtypes.AttributeValue) *dynamodb.QueryInput {
		return &dynamodb.QueryInput{
			Limit:                     aws.Int32(o.st.page()),
			TableName:                 &o.st.tables.Objects,
			KeyConditionExpression:    aws.String("pk = :p"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":p": s(pk)},
			ExclusiveStartKey:         start,
		}
	}
	return o.mergeShards(ctx, typ, q, byKey, func(it objectItem) error { return fn(it.object()) })
}

// updatedBounds are the bounds of w on the updatedAt strings: they are
// fixed width (timeLayout), so they sort as the times do and the bounds are
// the window's own ends (From inclusive, To exclusive). Empty for an open
// side.
func updatedBounds(w exportspec.Window) (lo, hi string) {
	if !w.From.IsZero() {
		lo = w.From.UTC().Format(timeLayout)
	}
	if !w.To.IsZero() {
		hi = w.To.UTC().Format(timeLayout)
	}
	return lo, hi
}

// updatedFilter is the FilterExpression (and its values) that keeps the
// items of w: "updatedAt >= :lo" and/or "updatedAt < :hi"; empty for a
// window open on both sides.
func updatedFilter(w exportspec.Window) (string, map[string]ddbtypes.AttributeValue) {
	lo, hi := updatedBounds(w)
	vals := map[string]ddbtypes.AttributeValue{}
	var conds []string
	if lo != "" {
		conds = append(conds, "updatedAt >= :lo")
		vals[":lo"] = s(lo)
	}
	if hi != "" {
		conds = append(conds, "updatedAt < :hi")
		vals[":hi"] = s(hi)
	}
	return strings.Join(conds, " AND "), vals
}

// EachUpdated calls fn with every stored object of type typ last written in
// w (From inclusive, To exclusive; a zero side is open), in key order, the
// order Each gives, so an incremental export's files depend only on the
// data. It reads every shard of the type as Each does, in parallel, a
// Query page at a time, with a FilterExpression on updatedAt: DynamoDB
// reads (and charges the read units of) every object of the type and
// returns only those in w. There is no index on updatedAt: an index would
// cost a write unit for every object written, far more than these reads
// (docs/capacity.md). The reads are strongly consistent, so every write
// that landed before the read is seen; the incremental schedules end
// their windows a minute before the run (Dispatcher.WriteLag) for the
// writes still in flight, whose updatedAt was taken just before they were
// sent.
func (o *Objects) EachUpdated(ctx context.Context, typ string, w exportspec.Window, fn func(catalog.Object) error) error {
	if !w.From.IsZero() && !w.To.IsZero() && !w.To.After(w.From) {
		return nil // an empty window
	}
	filter, vals := updatedFilter(w)
	q := func(pk string, start map[string]ddbtypes.AttributeValue) *dynamodb.QueryInput {
		v := make(map[string]ddbtypes.AttributeValue, len(vals)+1)
		for k, x := range vals {
			v[k] = x
		}
		v[":p"] = s(pk)
		in := &dynamodb.QueryInput{
			Limit:                     aws.Int32(o.st.page()),
			TableName:                 &o.st.tables.Objects,
			KeyConditionExpression:    aws.String("pk = :p"),
			ExpressionAttributeValues: v,
			ConsistentRead:            consistent,
			ExclusiveStartKey:         start,
		}
		if filter != "" {
			in.FilterExpression = aws.String(filter)
		}
		return in
	}
	return o.mergeShards(ctx, typ, q, byKey, func(it objectItem) error {
		ob := it.object()
		if !w.Contains(ob.UpdatedAt) {
			return nil // never with fixed-width times; kept so the window is exact whatever the strings
		}
		return fn(ob)
	})
}

// Count returns how many objects of type typ are stored: one counting
// Query per shard, in parallel.
func (o *Objects) Count(ctx context.Context, typ string) (int, error) {
	counts := make([]int, Shards)
	errs := make([]error, Shards)
	var wg sync.WaitGroup
	for sh := range Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var start map[string]ddbtypes.AttributeValue
			for {
				out, err := o.st.db.Query(ctx, &dynamodb.QueryInput{
					TableName:                 &o.st.tables.Objects,
					KeyConditionExpression:    aws.String("pk = :p"),
					ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":p": s(objectPK(o.tenant, typ, sh))},
					Select:                    ddbtypes.SelectCount,
					Limit:                     aws.Int32(2 * o.st.page()),
					ExclusiveStartKey:         start,
				})
				if err != nil {
					errs[sh] = classify(err, "counting %s objects", typ)
					return
				}
				counts[sh] += int(out.Count)
				if len(out.LastEvaluatedKey) == 0 {
					return
				}
				start = out.LastEvaluatedKey
			}
		}()
	}
	wg.Wait()
	total := 0
	for sh := range Shards {
		if errs[sh] != nil {
			return 0, errs[sh]
		}
		total += counts[sh]
	}
	return total, nil
}
