package dynamostore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// MigrateOptions bound one run of MigrateObjects.
type MigrateOptions struct {
	// PageItems is how many items one Scan page reads (default 500).
	PageItems int32
	// MaxPages stops the run after that many pages (0: run to the end). The
	// next run goes on from where this one stopped.
	MaxPages int
	// Parallel is how many items are moved at once (default 16).
	Parallel int
}

// MigrateReport is what MigrateObjects did, summed over every run since
// the migration began.
type MigrateReport struct {
	Scanned int `json:"scanned"` // items read
	Moved   int `json:"moved"`   // legacy items moved to their shard
	// Duplicates: a legacy item whose key was also in its shard; the
	// higher version was kept, the other removed.
	Duplicates int `json:"duplicates"`
	// Skipped: legacy-looking items that are not objects of this layout
	// (no type, or a partition key that does not end in it); left alone.
	Skipped int       `json:"skipped"`
	Pages   int       `json:"pages"`
	Done    bool      `json:"done"`
	Updated time.Time `json:"updated"`
}

// migrationKey is the control-table item that holds the migration's
// checkpoint.
var migrationKey = key("MIGRATION#objects-shards", "STATE")

// migrationState is the checkpoint item.
type migrationState struct {
	MigrateReport
	NextPK string `dynamodbav:"nextPk,omitempty"`
	NextSK string `dynamodbav:"nextSk,omitempty"`
}

// MigrateObjects moves the objects written before the sharded layout
// (pk "<tenant>#<type>") to their shards (pk "<tenant>#<type>#<shard>",
// shards.go), re-encoding their times in the fixed-width layout. It scans
// the objects table page by page and saves a checkpoint in the control
// table after every page, so a run that stops (MaxPages, a timeout, a
// crash) is resumed by the next one. Each item moves in one transaction
// (put into its shard if absent, delete the legacy item if unchanged), so
// running it again, or two runs at once, never loses or doubles an object:
// an object found in both places keeps the higher version (the shard's on
// a tie). After the end it reports Done; a run after that scans again and
// moves nothing that has already moved.
//
// Run it with imports paused (README: "Upgrading to the sharded layout"):
// the store reads only the sharded layout, so an object not yet moved is
// invisible to imports and exports until it is.
func (st *Store) MigrateObjects(ctx context.Context, opt MigrateOptions) (MigrateReport, error) {
	if opt.PageItems <= 0 {
		opt.PageItems = 500
	}
	if opt.Parallel <= 0 {
		opt.Parallel = 16
	}
	state, err := st.migrationState(ctx)
	if err != nil {
		return MigrateReport{}, err
	}
	if state.Done { // a new pass
		state = migrationState{MigrateReport: MigrateReport{Moved: state.Moved, Duplicates: state.Duplicates, Skipped: state.Skipped}}
	}
	for pages := 0; opt.MaxPages == 0 || pages < opt.MaxPages; pages++ {
		in := &dynamodb.ScanInput{TableName: &st.tables.Objects, Limit: aws.Int32(opt.PageItems), ConsistentRead: consistent}
		if state.NextPK != "" {
			in.ExclusiveStartKey = key(state.NextPK, state.NextSK)
		}
		out, err := st.db.Scan(ctx, in)
		if err != nil {
			return state.MigrateReport, classify(err, "scanning the objects table")
		}
		var items []objectItem
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
			return state.MigrateReport, bulkerr.Wrap(bulkerr.Internal, err, "decoding objects")
		}
		moved, dups, skipped, err := st.migratePage(ctx, items, opt.Parallel)
		if err != nil {
			return state.MigrateReport, err
		}
		state.Scanned += len(items)
		state.Moved += moved
		state.Duplicates += dups
		state.Skipped += skipped
		state.Pages++
		state.NextPK, state.NextSK = "", ""
		if len(out.LastEvaluatedKey) > 0 {
			var k struct {
				PK string `dynamodbav:"pk"`
				SK string `dynamodbav:"sk"`
			}
			if err := attributevalue.UnmarshalMap(out.LastEvaluatedKey, &k); err != nil {
				return state.MigrateReport, bulkerr.Wrap(bulkerr.Internal, err, "decoding the scan position")
			}
			state.NextPK, state.NextSK = k.PK, k.SK
		}
		state.Done = state.NextPK == ""
		state.Updated = st.now().UTC()
		if err := st.saveMigrationState(ctx, state); err != nil {
			return state.MigrateReport, err
		}
		if state.Done {
			break
		}
	}
	return state.MigrateReport, nil
}

func (st *Store) migrationState(ctx context.Context) (migrationState, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.tables.Control, Key: migrationKey, ConsistentRead: consistent})
	if err != nil {
		return migrationState{}, classify(err, "reading the migration's checkpoint")
	}
	var state migrationState
	if out.Item != nil {
		if err := attributevalue.UnmarshalMap(out.Item, &state); err != nil {
			return migrationState{}, bulkerr.Wrap(bulkerr.Internal, err, "decoding the migration's checkpoint")
		}
	}
	return state, nil
}

func (st *Store) saveMigrationState(ctx context.Context, state migrationState) error {
	item, err := attributevalue.MarshalMap(state)
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "encoding the migration's checkpoint")
	}
	for k, v := range migrationKey {
		item[k] = v
	}
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.tables.Control, Item: item}); err != nil {
		return classify(err, "saving the migration's checkpoint")
	}
	return nil
}

// migratePage moves the legacy items among items, par at a time.
func (st *Store) migratePage(ctx context.Context, items []objectItem, par int) (moved, dups, skipped int, err error) {
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for _, it := range items {
		if isShardedPK(it.PK, it.SK) {
			continue
		}
		tenant, ok := strings.CutSuffix(it.PK, "#"+it.Type)
		if it.Type == "" || !ok || tenant == "" {
			skipped++
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			dup, err := st.moveObject(ctx, tenant, it)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				if firstErr == nil {
					firstErr = err
				}
			case dup:
				dups++
			default:
				moved++
			}
		}()
	}
	wg.Wait()
	return moved, dups, skipped, firstErr
}

// moveObject moves the legacy item it of tenant to its shard. dup reports
// that the shard held the key already (the higher version is kept) or
// another run moved it first.
func (st *Store) moveObject(ctx context.Context, tenant string, it objectItem) (dup bool, err error) {
	ob := it.object()
	item, err := ObjectItem(tenant, ob)
	if err != nil {
		return false, err
	}
	newKey := key(keyPK(tenant, ob.Type, ob.Key), ob.Key)
	delOld := ddbtypes.TransactWriteItem{Delete: &ddbtypes.Delete{
		TableName: &st.tables.Objects, Key: key(it.PK, it.SK),
		ConditionExpression:       aws.String("version = :v"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": n(it.Version)},
	}}
	for attempt := 0; ; attempt++ {
		if attempt > 8 {
			return false, bulkerr.New(bulkerr.Transient, "moving %s %q of %s: the database kept cancelling", ob.Type, ob.Key, tenant)
		}
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return false, err
			}
		}
		// Where the shard holds the key already, keep the higher version.
		put := &ddbtypes.Put{TableName: &st.tables.Objects, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}
		got, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.tables.Objects, Key: newKey, ConsistentRead: consistent})
		if err != nil {
			return false, classify(err, "reading %s %q of %s", ob.Type, ob.Key, tenant)
		}
		actions := []ddbtypes.TransactWriteItem{delOld}
		if got.Item != nil {
			var cur objectItem
			if err := attributevalue.UnmarshalMap(got.Item, &cur); err != nil {
				return false, bulkerr.Wrap(bulkerr.Internal, err, "decoding %s %q of %s", ob.Type, ob.Key, tenant)
			}
			dup = true
			if cur.Version < it.Version { // the legacy item is newer: it replaces the shard's
				put.ConditionExpression = aws.String("version = :cur")
				put.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{":cur": n(cur.Version)}
				actions = append(actions, ddbtypes.TransactWriteItem{Put: put})
			}
		} else {
			actions = append(actions, ddbtypes.TransactWriteItem{Put: put})
		}
		_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: actions})
		if err == nil {
			return dup, nil
		}
		var tce *ddbtypes.TransactionCanceledException
		if !errors.As(err, &tce) {
			return false, classify(err, "moving %s %q of %s", ob.Type, ob.Key, tenant)
		}
		codes := cancellationCodes(tce, len(actions))
		if codes[0] == "ConditionalCheckFailed" { // the legacy item is gone or changed
			old, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.tables.Objects, Key: key(it.PK, it.SK), ConsistentRead: consistent})
			if err != nil {
				return false, classify(err, "reading %s %q of %s", ob.Type, ob.Key, tenant)
			}
			if old.Item == nil {
				return true, nil // another run moved it
			}
			// changed under the migration (imports were not paused): move
			// what is there now
			var cur objectItem
			if err := attributevalue.UnmarshalMap(old.Item, &cur); err != nil {
				return false, bulkerr.Wrap(bulkerr.Internal, err, "decoding %s %q of %s", ob.Type, ob.Key, tenant)
			}
			return st.moveObject(ctx, tenant, cur)
		}
		// the shard's item changed between the read and the write, or the
		// transaction met contention: read again and retry
	}
}
