package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The applied alerting plan is one item beside the state items:
//
//	applied  pk="ALERTING"  sk="applied"  kind="applied"  hash, rev, at, alarms
const (
	appliedPK   = "ALERTING"
	appliedSK   = "applied"
	kindApplied = "applied"
)

// Applied records the alerting plan CloudWatch was last converged to, so an
// unchanged document costs no CloudWatch request.
type Applied struct {
	// Hash identifies the plan (alerting.Plan.Hash); "" when none was
	// applied, or when a concurrent convergence may have overwritten it.
	Hash   string
	Alarms int
	At     time.Time
	// Rev counts writes of the item; each write is conditional on the rev
	// read, so two invocations never both record a convergence.
	Rev int64
	// Malformed says the stored item could not be read; it is treated as
	// no plan applied and overwritten.
	Malformed bool
}

func appliedKey() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: appliedPK},
		attrSK: &types.AttributeValueMemberS{Value: appliedSK},
	}
}

// decodeApplied reads the applied item; an absent item is the zero Applied.
// A malformed one never stops convergence: it reads as nothing applied.
func decodeApplied(item map[string]types.AttributeValue) Applied {
	if len(item) == 0 {
		return Applied{}
	}
	a := Applied{Hash: stringAttr(item, "hash")}
	rev, errRev := strconv.ParseInt(numberAttr(item, "rev"), 10, 64)
	alarms, errAlarms := strconv.Atoi(numberAttr(item, "alarms"))
	at, errAt := time.Parse(time.RFC3339Nano, stringAttr(item, "at"))
	if stringAttr(item, attrKind) != kindApplied || errRev != nil || errAlarms != nil || errAt != nil || rev < 1 || len(a.Hash) > 128 {
		return Applied{Malformed: true}
	}
	a.Rev, a.Alarms, a.At = rev, alarms, at
	return a
}

func numberAttr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}

// ReadApplied reads the applied plan with a strongly consistent GetItem. The
// check reads it in its batched read instead (ReadBatch).
func (s *Store) ReadApplied(ctx context.Context) (Applied, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: appliedKey(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Applied{}, fmt.Errorf("store: read applied alerting plan: %w", err)
	}
	return decodeApplied(out.Item), nil
}

// PutApplied records hash as converged, over prev as read. When another
// invocation wrote the item since, it loses the race: if the winner recorded
// the same hash nothing is lost; otherwise the convergences may have
// interleaved, so the record is cleared (hash "") and the next check
// converges again. It returns whether hash was recorded.
func (s *Store) PutApplied(ctx context.Context, hash string, alarms int, at time.Time, prev Applied) (bool, error) {
	_, err := s.client.PutItem(ctx, s.appliedInput(hash, alarms, at, prev))
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case !errors.As(err, &ccf):
		return false, fmt.Errorf("store: record applied alerting plan: %w", err)
	}
	winner := decodeApplied(ccf.Item)
	if winner.Hash == hash {
		return false, nil
	}
	if _, err := s.client.PutItem(ctx, s.appliedInput("", 0, at, winner)); err != nil && !errors.As(err, &ccf) {
		return false, fmt.Errorf("store: clear applied alerting plan after a race: %w", err)
	}
	return false, nil
}

func (s *Store) appliedInput(hash string, alarms int, at time.Time, prev Applied) *dynamodb.PutItemInput {
	item := appliedKey()
	item[attrKind] = &types.AttributeValueMemberS{Value: kindApplied}
	item["hash"] = &types.AttributeValueMemberS{Value: hash}
	item["alarms"] = &types.AttributeValueMemberN{Value: strconv.Itoa(alarms)}
	item["at"] = &types.AttributeValueMemberS{Value: at.UTC().Format(time.RFC3339Nano)}
	item["rev"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(max(prev.Rev, 0)+1, 10)}
	in := &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	switch {
	case prev.Malformed:
		// Overwrite what cannot be read.
	case prev.Rev == 0:
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		in.ExpressionAttributeNames = map[string]string{"#pk": attrPK}
	default:
		in.ConditionExpression = aws.String("#rev = :rev")
		in.ExpressionAttributeNames = map[string]string{"#rev": "rev"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":rev": &types.AttributeValueMemberN{Value: strconv.FormatInt(prev.Rev, 10)}}
	}
	return in
}

// ClearApplied forgets the applied plan (the alarms were removed), so the
// next check converges again. It overwrites whatever is stored; its rev is
// the clock's, above any count, so a writer that read an older item loses.
func (s *Store) ClearApplied(ctx context.Context, at time.Time) error {
	if _, err := s.client.PutItem(ctx, s.appliedInput("", 0, at, Applied{Malformed: true, Rev: at.UnixNano()})); err != nil {
		return fmt.Errorf("store: clear applied alerting plan: %w", err)
	}
	return nil
}
