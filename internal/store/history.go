package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vigil-monitor/vigil/internal/health"
)

// Retention of the TTL'd items.
const (
	HistoryTTL = 30 * 24 * time.Hour
	AttemptTTL = 90 * 24 * time.Hour
)

const (
	// batchSize is BatchWriteItem's limit per request.
	batchSize = 25
	// maxBatchTries bounds the retries of unprocessed items; DynamoDB returns
	// them when throttling, and backing off is what AWS asks for.
	maxBatchTries = 5
	// historyTimeLayout is RFC 3339 in UTC with all nine fraction digits:
	// fixed width, so sort-key order is time order (RFC3339Nano trims zeros,
	// and "…:05Z" would sort after "…:05.5Z").
	historyTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"
)

// HistorySK is the sort key of a history item: the transition time in UTC
// with nine fraction digits, then "#" and n zero-padded to three digits.
// Keys sort in time order; parse the time part with time.RFC3339Nano.
func HistorySK(at time.Time, n int) string {
	return fmt.Sprintf("%s#%03d", at.UTC().Format(historyTimeLayout), n)
}

// historyItem is the stored shape of one transition.
type historyItem struct {
	PK          string       `dynamodbav:"pk"`
	SK          string       `dynamodbav:"sk"`
	Kind        string       `dynamodbav:"kind"`
	Schema      int          `dynamodbav:"schema"`
	Integration string       `dynamodbav:"integration"`
	From        health.State `dynamodbav:"from"`
	To          health.State `dynamodbav:"to"`
	At          time.Time    `dynamodbav:"at"`
	Cause       string       `dynamodbav:"cause"`
	ExpiresAt   int64        `dynamodbav:"expires_at"`
}

// PutHistory writes one history item per transition under
// pk "HISTORY#<integration>", sort key HistorySK(t.At, i) where i is the
// transition's index in ts, expiring HistoryTTL from now. Writing the same
// transitions again overwrites the same items, so a redelivered check adds
// nothing.
//
// Items go out 25 to a BatchWriteItem; items DynamoDB leaves unprocessed are
// retried with jittered backoff a bounded number of times, and an error
// reports any that are still unwritten.
func (s *Store) PutHistory(ctx context.Context, integration string, ts []health.Transition) error {
	if integration == "" {
		return errors.New("store: put history: integration name is empty")
	}
	expires := s.now().Add(HistoryTTL).Unix()
	reqs := make([]types.WriteRequest, 0, len(ts))
	for i, t := range ts {
		item, err := attributevalue.MarshalMap(historyItem{
			PK:          historyPrefix + integration,
			SK:          HistorySK(t.At, i),
			Kind:        kindHistory,
			Schema:      schemaVersion,
			Integration: integration,
			From:        t.From,
			To:          t.To,
			At:          t.At,
			Cause:       t.Cause,
			ExpiresAt:   expires,
		})
		if err != nil {
			return fmt.Errorf("store: put history %s: marshal transition %d: %w", integration, i, err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	for start := 0; start < len(reqs); start += batchSize {
		end := min(start+batchSize, len(reqs))
		if err := s.batchWrite(ctx, reqs[start:end]); err != nil {
			return fmt.Errorf("store: put history %s: items %d-%d: %w", integration, start, end-1, err)
		}
	}
	return nil
}

// batchWrite writes at most 25 requests, retrying the unprocessed ones.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for try := 1; ; try++ {
		out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{s.table: reqs},
		})
		if err != nil {
			return err
		}
		reqs = out.UnprocessedItems[s.table]
		if len(reqs) == 0 {
			return nil
		}
		if try == maxBatchTries {
			return fmt.Errorf("%d items still unprocessed after %d tries", len(reqs), try)
		}
		if err := sleep(ctx, backoff(try)); err != nil {
			return fmt.Errorf("%d items unprocessed: %w", len(reqs), err)
		}
	}
}

// Attempt is one recovery attempt of an incident, as the Recovery Lambda
// reports it.
type Attempt struct {
	IncidentID  string    `dynamodbav:"incident_id"`
	Integration string    `dynamodbav:"integration"`
	Attempt     int       `dynamodbav:"attempt"` // 1-based
	Outcome     string    `dynamodbav:"outcome"` // succeeded | failed | exhausted
	DurationMs  float64   `dynamodbav:"duration_ms"`
	Error       string    `dynamodbav:"error,omitempty"`
	At          time.Time `dynamodbav:"at"`
}

// AttemptSK is the sort key of attempt n: "ATTEMPT#" and n zero-padded to
// three digits, so attempts sort in order.
func AttemptSK(n int) string { return fmt.Sprintf("ATTEMPT#%03d", n) }

// PutAttempt records a under pk "INCIDENT#<incident id>", sort key
// AttemptSK(a.Attempt), expiring AttemptTTL from now. It writes only if the
// item does not exist yet: a redelivered report returns created=false and no
// error, and the first report stays as written.
func (s *Store) PutAttempt(ctx context.Context, a Attempt) (created bool, err error) {
	if a.IncidentID == "" || a.Integration == "" || a.Attempt < 1 {
		return false, fmt.Errorf("store: put attempt %q #%d: incident id and integration must be set and attempt at least 1", a.IncidentID, a.Attempt)
	}
	item, err := attributevalue.MarshalMap(a)
	if err != nil {
		return false, fmt.Errorf("store: put attempt %s #%d: marshal: %w", a.IncidentID, a.Attempt, err)
	}
	item[attrPK] = &types.AttributeValueMemberS{Value: incidentPref + a.IncidentID}
	item[attrSK] = &types.AttributeValueMemberS{Value: AttemptSK(a.Attempt)}
	item[attrKind] = &types.AttributeValueMemberS{Value: kindAttempt}
	item[attrSchema] = &types.AttributeValueMemberN{Value: strconv.Itoa(schemaVersion)}
	item[attrExpiresAt] = &types.AttributeValueMemberN{Value: strconv.FormatInt(s.now().Add(AttemptTTL).Unix(), 10)}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	return written(err, fmt.Sprintf("put attempt %s #%d", a.IncidentID, a.Attempt))
}
