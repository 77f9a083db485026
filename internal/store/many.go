package store

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vigil-monitor/vigil/internal/health"
)

// maxBatchKeys is the most keys one BatchGetItem takes.
const maxBatchKeys = 100

// Updated is the outcome of one integration's update in UpdateMany.
type Updated struct {
	Record health.Record
	Err    error
}

// UpdateMany is Update for many integrations at once: their items are read
// with strongly consistent BatchGetItem calls (100 keys each) instead of one
// GetItem each, then each is applied and written conditionally as Update
// does, at most limit at a time. A check of N integrations costs
// N PutItems + ⌈N/100⌉ reads instead of 2N requests.
//
// fn receives the integration's name. The result holds one entry per name, in
// order; a malformed item, a failed write or a conflict is that entry's Err
// and does not stop the others. If the batch read itself fails, every entry
// carries that error and nothing is written.
func (s *Store) UpdateMany(ctx context.Context, names []string, limit int, fn func(name string, cur health.Record) (health.Record, bool, error)) []Updated {
	out, _, _ := s.updateMany(ctx, names, limit, fn, false)
	return out
}

func (s *Store) updateMany(ctx context.Context, names []string, limit int, fn func(name string, cur health.Record) (health.Record, bool, error), withApplied bool) ([]Updated, Applied, error) {
	b := s.readBatch(ctx, names, withApplied)
	return s.UpdateBatch(ctx, b, limit, fn)
}

// Batch is the items of integrations read in one batched read, to be
// updated later (UpdateBatch): the check reads its records while its probes
// run, so no read waits after them.
type Batch struct {
	names   []string
	items   map[string]map[string]types.AttributeValue
	applied map[string]types.AttributeValue
	err     error
}

// ReadBatch reads the records of names and, in the same batched read, the
// applied alerting plan, so the check learns whether its plan is applied
// without a request of its own. A failed read is kept in the Batch and
// reported by UpdateBatch.
func (s *Store) ReadBatch(ctx context.Context, names []string) *Batch {
	return s.readBatch(ctx, names, true)
}

func (s *Store) readBatch(ctx context.Context, names []string, withApplied bool) *Batch {
	b := &Batch{names: names}
	b.items, b.applied, b.err = s.getMany(ctx, names, withApplied)
	return b
}

// UpdateBatch is UpdateMany from a batch read earlier, and returns the
// applied plan read with it (err is the read's error, also in every entry;
// then Applied is unknown). The writes
// stay conditional on the versions read, so a record another writer changed
// since is re-applied from what that write's refusal returns, as Update does.
func (s *Store) UpdateBatch(ctx context.Context, b *Batch, limit int, fn func(name string, cur health.Record) (health.Record, bool, error)) ([]Updated, Applied, error) {
	out := make([]Updated, len(b.names))
	if b.err != nil {
		for i := range out {
			out[i].Err = b.err
		}
		return out, Applied{}, b.err
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, limit))
	for i, name := range b.names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i].Record, out[i].Err = s.apply(ctx, name, b.items[name], func(cur health.Record) (health.Record, bool, error) {
				return fn(name, cur)
			})
		}()
	}
	wg.Wait()
	return out, decodeApplied(b.applied), nil
}

// getMany reads the state items of names (an absent item is absent from the
// map) and, with withApplied, the applied alerting plan's item in the first
// batch (it takes one of the batch's 100 keys). Unprocessed keys (throttling)
// are retried with backoff, a bounded number of times.
func (s *Store) getMany(ctx context.Context, names []string, withApplied bool) (map[string]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
	items := make(map[string]map[string]types.AttributeValue, len(names))
	var applied map[string]types.AttributeValue
	perBatch := maxBatchKeys
	if withApplied {
		perBatch--
	}
	for start := 0; start < len(names) || (start == 0 && withApplied); start += perBatch {
		var keys []map[string]types.AttributeValue
		if start == 0 && withApplied {
			keys = append(keys, appliedKey())
		}
		seen := map[string]bool{}
		for _, n := range names[start:min(start+perBatch, len(names))] {
			if !seen[n] { // BatchGetItem refuses duplicate keys
				seen[n] = true
				keys = append(keys, stateKey(n))
			}
		}
		req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for try := 1; len(req) > 0; try++ {
			res, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, nil, fmt.Errorf("store: read %d states: %w", len(keys), err)
			}
			for _, item := range res.Responses[s.table] {
				if stringAttr(item, attrPK) == appliedPK {
					applied = item
					continue
				}
				items[stringAttr(item, attrSK)] = item
			}
			req = res.UnprocessedKeys
			if len(req) == 0 {
				break
			}
			if try == maxBatchTries {
				return nil, nil, fmt.Errorf("store: read %d states: %d keys still unprocessed after %d tries", len(keys), len(req[s.table].Keys), try)
			}
			if err := sleep(ctx, backoff(try)); err != nil {
				return nil, nil, fmt.Errorf("store: read states: %w", err)
			}
		}
	}
	return items, applied, nil
}
