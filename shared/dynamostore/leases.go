package dynamostore

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Every tenant lock item carries leaseShard, which puts it in the sparse
// "leases" index of the control table (leaseShard, leaseUntil): the
// cleanup sweeper finds the locks whose lease has ended with one Query per
// shard, reading only lock items (one per tenant at most), never the jobs
// or the other control items. The shards spread the index's writes (every
// lease extension moves the item in the index) over several partitions.
const (
	leasesIndex = "leases"
	leaseShards = 8
)

// leaseShard is the index partition of tenant's lock.
func leaseShard(tenant string) ddbtypes.AttributeValue {
	h := fnv.New32a()
	_, _ = h.Write([]byte(tenant))
	return s(fmt.Sprintf("LEASE#%d", h.Sum32()%leaseShards))
}

// ExpiredLease is a tenant lock whose lease ended.
type ExpiredLease struct {
	Tenant string
	Holder string
	Until  time.Time
}

// ExpiredLeases returns up to limit tenant locks whose lease ended before
// before, oldest first within each shard. A released lock is gone, so every
// lock returned is held by a job that neither ended nor renewed it in time.
func (st *Store) ExpiredLeases(ctx context.Context, before time.Time, limit int) ([]ExpiredLease, error) {
	var out []ExpiredLease
	for shard := 0; shard < leaseShards && len(out) < limit; shard++ {
		var start map[string]ddbtypes.AttributeValue
		for len(out) < limit {
			page, err := st.db.Query(ctx, &dynamodb.QueryInput{
				TableName: &st.tables.Control, IndexName: aws.String(leasesIndex),
				KeyConditionExpression: aws.String("leaseShard = :s AND leaseUntil < :before"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
					":s": s(fmt.Sprintf("LEASE#%d", shard)), ":before": n(before.UnixMilli()),
				},
				Limit: aws.Int32(int32(min(limit-len(out), 100))), ExclusiveStartKey: start,
			})
			if err != nil {
				return out, classify(err, "listing expired tenant locks")
			}
			for _, it := range page.Items {
				pk, _ := it["pk"].(*ddbtypes.AttributeValueMemberS)
				holder, _ := it["holder"].(*ddbtypes.AttributeValueMemberS)
				until, _ := it["leaseUntil"].(*ddbtypes.AttributeValueMemberN)
				if pk == nil || holder == nil || until == nil || !strings.HasPrefix(pk.Value, "LOCK#") {
					continue
				}
				ms, _ := strconv.ParseInt(until.Value, 10, 64)
				out = append(out, ExpiredLease{Tenant: strings.TrimPrefix(pk.Value, "LOCK#"), Holder: holder.Value, Until: time.UnixMilli(ms)})
			}
			if page.LastEvaluatedKey == nil {
				break
			}
			start = page.LastEvaluatedKey
		}
	}
	return out, nil
}
