package dynamostore

import (
	"container/heap"
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Shards is how many partition keys the objects of one tenant and type are
// spread over: an object lives under "<tenant>#<type>#<shard>", the shard
// two hex digits of a hash of its key. The number is fixed (a lookup must
// find an object from its key alone, with no per-tenant metadata to read
// first) and chosen so that the largest import the service takes fits the
// per-partition write limit with room to spare: 1,000,000 rows in 5 minutes
// are 3,334 writes a second, 209 a shard, a fifth of the 1,000 writes a
// second one partition takes. Listing and incremental reads (EachUpdated)
// read the 16 shards in parallel. docs/capacity.md has
// the model that checks it.
const Shards = 16

// ShardOf is the shard of the object with natural key key: FNV-1a (32 bit)
// of the key, modulo Shards. It must never change: it is where stored
// objects are.
func ShardOf(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % Shards)
}

// objectPK is the partition key of the objects of tenant and type typ in
// shard.
func objectPK(tenant, typ string, shard int) string {
	return fmt.Sprintf("%s#%s#%02x", tenant, typ, shard)
}

// keyPK is the partition key of the object of tenant and type typ with
// natural key k.
func keyPK(tenant, typ, k string) string { return objectPK(tenant, typ, ShardOf(k)) }

// isShardedPK reports whether pk is a partition key of the sharded layout
// for an object with sort key sk: it ends in "#" and the two hex digits of
// sk's shard. A key of the layout before shards ("<tenant>#<type>") ends in
// the type's slug, never in two hex digits.
func isShardedPK(pk, sk string) bool {
	want := fmt.Sprintf("#%02x", ShardOf(sk))
	return strings.HasSuffix(pk, want) && strings.Count(pk, "#") >= 2
}

// timeLayout is how the store writes createdAt and updatedAt: UTC with nine
// fractional digits, fixed width, so the strings sort as the times do (an
// incremental read filters on them: EachUpdated). Reading accepts any RFC
// 3339 time, so items written before (time.RFC3339Nano, trailing zeros
// dropped) still decode; bin/migrate-objects rewrote them in this layout.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// stamp is a time stored in timeLayout.
type stamp time.Time

// MarshalDynamoDBAttributeValue writes the time in timeLayout.
func (t stamp) MarshalDynamoDBAttributeValue() (ddbtypes.AttributeValue, error) {
	return s(time.Time(t).UTC().Format(timeLayout)), nil
}

// UnmarshalDynamoDBAttributeValue reads an RFC 3339 time.
func (t *stamp) UnmarshalDynamoDBAttributeValue(av ddbtypes.AttributeValue) error {
	v, ok := av.(*ddbtypes.AttributeValueMemberS)
	if !ok {
		return fmt.Errorf("time attribute is %T, want a string", av)
	}
	p, err := time.Parse(time.RFC3339Nano, v.Value)
	if err != nil {
		return err
	}
	*t = stamp(p)
	return nil
}

// shardPage is one Query page of one shard, decoded.
type shardPage struct {
	items []objectItem
	err   error
}

// shardStream reads one shard's Query pages in the background, one page
// ahead of the merge.
type shardStream struct {
	pages <-chan shardPage
	cur   []objectItem
	pos   int
}

// shardQuery builds the Query of one shard's page from its partition key
// and the page's start.
type shardQuery func(pk string, start map[string]ddbtypes.AttributeValue) *dynamodb.QueryInput

// mergeShards runs q over every shard of tenant's type typ in parallel and
// calls fn with the items of all shards merged in the order less gives
// (each shard's Query returns its items in that order), so the result is
// the same as one Query over an unsharded partition: listing and export
// stay deterministic. At most two pages of each shard are held at a time.
func (o *Objects) mergeShards(ctx context.Context, typ string, q shardQuery, less func(a, b *objectItem) bool, fn func(objectItem) error) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	streams := make([]*shardStream, Shards)
	for sh := range Shards {
		ch := make(chan shardPage) // unbuffered: the page in hand and one ready
		streams[sh] = &shardStream{pages: ch}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(ch)
			pk := objectPK(o.tenant, typ, sh)
			var start map[string]ddbtypes.AttributeValue
			for {
				var page shardPage
				var next map[string]ddbtypes.AttributeValue
				if out, err := o.st.db.Query(ctx, q(pk, start)); err != nil {
					page.err = classify(err, "reading %s objects", typ)
				} else if err := attributevalue.UnmarshalListOfMaps(out.Items, &page.items); err != nil {
					page.err = bulkerr.Wrap(bulkerr.Internal, err, "decoding %s objects", typ)
				} else {
					next = out.LastEvaluatedKey // the raw page is not kept while the decoded one waits
				}
				select {
				case ch <- page:
				case <-ctx.Done():
					return
				}
				if page.err != nil || len(next) == 0 {
					return
				}
				start = next
			}
		}()
	}
	// next makes st.cur[st.pos] the stream's next item; false at its end.
	next := func(st *shardStream) (bool, error) {
		for st.pos >= len(st.cur) {
			page, ok := <-st.pages
			if !ok {
				return false, nil
			}
			if page.err != nil {
				return false, page.err
			}
			st.cur, st.pos = page.items, 0
		}
		return true, nil
	}
	h := &streamHeap{less: less}
	for _, st := range streams {
		ok, err := next(st)
		if err != nil {
			return err
		}
		if ok {
			h.s = append(h.s, st)
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		st := h.s[0]
		if err := fn(st.cur[st.pos]); err != nil {
			return err
		}
		st.pos++
		ok, err := next(st)
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return ctx.Err()
}

// streamHeap orders shard streams by their current item.
type streamHeap struct {
	s    []*shardStream
	less func(a, b *objectItem) bool
}

func (h *streamHeap) Len() int { return len(h.s) }
func (h *streamHeap) Less(i, j int) bool {
	return h.less(&h.s[i].cur[h.s[i].pos], &h.s[j].cur[h.s[j].pos])
}
func (h *streamHeap) Swap(i, j int) { h.s[i], h.s[j] = h.s[j], h.s[i] }
func (h *streamHeap) Push(x any)    { h.s = append(h.s, x.(*shardStream)) }
func (h *streamHeap) Pop() any {
	x := h.s[len(h.s)-1]
	h.s = h.s[:len(h.s)-1]
	return x
}

// byKey orders items as a Query of the table returns them: by sort key
// (bytes of the UTF-8 string).
func byKey(a, b *objectItem) bool { return a.SK < b.SK }
