// Package store persists Vigil's health records in one DynamoDB table
// (SPEC §4). DynamoDB is confined to this package: a Store reads and writes
// items through ItemAPI, and CreateTable administers the table through
// TableAPI.
//
// Item layout (other packages and the template rely on it):
//
//	state       pk="STATE"                        sk=<integration>                       kind="state"       schema=1
//	history     pk="HISTORY#<integration>"        sk=<UTC time, 9 fraction digits>#<nnn> kind="history"     expires_at=+30 days
//	attempt     pk="INCIDENT#<incident>"          sk="ATTEMPT#<nnn>"                     kind="attempt"     expires_at=+90 days
//	applied     pk="ALERTING"                     sk="applied"                           kind="applied"     (applied.go)
//	observation pk="OBS#<tick RFC3339Nano>#<i/n>" sk=<region>                            kind="observation" schema=1 expires_at=tick+1h (observe.go)
//	open        pk="OPEN#<i/n>"                   sk=<tick UTC, 9 fraction digits>       (no kind)          expires_at=tick+1h
//	heartbeat   pk="SHARD"                        sk=<i/n>                               kind="shard"       expires_at=tick+7 days
//	region      pk="REGION"                       sk=<region>                            kind="region"      version, conditional
//
// Observation results are gzip-compressed JSON in the binary attribute
// "results"; times are UTC RFC 3339 strings, the heartbeat's tick fixed
// width (9 fraction digits) so its conditional write compares in time order.
//
// A state item is a health.Record marshalled with its dynamodbav tags, plus
// pk, sk, kind and schema. Writes are conditional on the record's version, so
// overlapping invocations never lose an update.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vigil-monitor/vigil/internal/health"
)

// ItemAPI is the part of the DynamoDB client a Store uses: reading and
// writing items, nothing that changes a table. A *dynamodb.Client satisfies
// it, so does a client whose role may only read and write items, and tests
// wrap one to count requests. Table administration is TableAPI (table.go).
type ItemAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

var _ ItemAPI = (*dynamodb.Client)(nil)

// Sentinel errors; test with errors.Is.
var (
	// ErrNotFound: Get found no state item for the integration.
	ErrNotFound = errors.New("not found")
	// ErrMalformed: a stored item cannot be read as a current state record
	// (bad types, unknown kind or schema, or it fails health.Record.Validate).
	// The store never overwrites such an item; an operator must repair or
	// delete it. The error names the integration and every problem found.
	ErrMalformed = errors.New("malformed stored item")
	// ErrConflict: Update lost the conditional write race on every try.
	ErrConflict = errors.New("too many conflicting writes")
)

// Key values and attribute names of the item layout.
const (
	statePK       = "STATE"
	historyPrefix = "HISTORY#"
	incidentPref  = "INCIDENT#"

	attrPK        = "pk"
	attrSK        = "sk"
	attrKind      = "kind"
	attrSchema    = "schema"
	attrExpiresAt = "expires_at"

	kindState   = "state"
	kindHistory = "history"
	kindAttempt = "attempt"

	// schemaVersion is bumped when the stored shape changes incompatibly, so
	// an older binary refuses a newer item instead of silently dropping fields.
	schemaVersion = 1
)

// Update retry policy. Two overlapping invocations of one schedule converge
// in one retry; maxUpdateTries absorbs a burst of late redeliveries. The sleeps
// stay sub-millisecond to a few milliseconds because each retry already holds
// the newest item: waiting longer only lets it go stale.
const (
	maxUpdateTries = 16
	backoffBase    = 250 * time.Microsecond
	backoffMax     = 5 * time.Millisecond
)

// Store reads and writes health records in one table. It is safe for
// concurrent use; build one per container and share it.
type Store struct {
	client ItemAPI
	table  string
	now    func() time.Time // stamps TTLs; replaced in tests
}

// New returns a Store on table through client. The table must have the shape
// CreateTable makes (or template.yaml declares).
func New(client ItemAPI, table string) *Store {
	return &Store{client: client, table: table, now: time.Now}
}

// UpdateFunc receives the current record — a zero Record with Integration set
// and State health.Uninitialized when nothing is stored — and returns the next
// record and whether to write it.
//
// It may be called more than once per Update (each time on a fresher record
// after losing a write race), so it must not have side effects, and it must
// not keep cur or next after returning. Integration and Version of next are
// set by the store.
type UpdateFunc func(cur health.Record) (next health.Record, write bool, err error)

// Update reads the integration's record with a strongly consistent GetItem,
// applies fn, and writes the result conditionally on the version read. In the
// steady state that is exactly two requests; with write=false it is one.
//
// When the write loses a race, the current item comes back with the failed
// write (ALL_OLD) and fn is re-applied to it without another read, up to a
// bound, then ErrConflict. A stored item that is malformed yields ErrMalformed
// before fn is called, and the item is left untouched. An error from fn is
// returned wrapped, and nothing is written.
//
// Update returns the record as stored afterwards: next with its new version,
// or cur when fn chose not to write.
func (s *Store) Update(ctx context.Context, integration string, fn UpdateFunc) (health.Record, error) {
	if integration == "" {
		return health.Record{}, errors.New("store: update: integration name is empty")
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            stateKey(integration),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return health.Record{}, fmt.Errorf("store: update %s: get: %w", integration, err)
	}
	return s.apply(ctx, integration, out.Item, fn)
}

// apply is Update from an item already read: fn, then the conditional write
// and its re-application on lost races.
func (s *Store) apply(ctx context.Context, integration string, item map[string]types.AttributeValue, fn UpdateFunc) (health.Record, error) {
	cur, err := decodeState(integration, item)
	if err != nil {
		return health.Record{}, fmt.Errorf("store: update %s: %w", integration, err)
	}
	for try := 1; ; try++ {
		next, write, err := fn(cur)
		if err != nil {
			return health.Record{}, fmt.Errorf("store: update %s: %w", integration, err)
		}
		if !write {
			return cur, nil
		}
		next.Integration = integration
		next.Version = cur.Version + 1
		// Refusing to write what we would refuse to read keeps one bad
		// evaluation from wedging the integration behind ErrMalformed.
		if err := next.Validate(); err != nil {
			return health.Record{}, fmt.Errorf("store: update %s: refusing to write: %w", integration, err)
		}
		in, err := s.putStateInput(next, cur.Version)
		if err != nil {
			return health.Record{}, fmt.Errorf("store: update %s: %w", integration, err)
		}
		_, err = s.client.PutItem(ctx, in)
		if err == nil {
			return next, nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return health.Record{}, fmt.Errorf("store: update %s: put: %w", integration, err)
		}
		if try == maxUpdateTries {
			return health.Record{}, fmt.Errorf("store: update %s: %w (%d tries)", integration, ErrConflict, try)
		}
		// An absent Item means the winner deleted the record: start afresh.
		if cur, err = decodeState(integration, ccf.Item); err != nil {
			return health.Record{}, fmt.Errorf("store: update %s: %w", integration, err)
		}
		// The item from the failed write is fresh now and goes stale while
		// we sleep (a busy rival writes again meanwhile, and a long sleep
		// starves us), so the first two retries go at once; only repeated
		// losses, which mean a crowd, back off briefly to spread it out.
		if try > 2 {
			if err := sleep(ctx, backoff(try-2)); err != nil {
				return health.Record{}, fmt.Errorf("store: update %s: %w", integration, err)
			}
		}
	}
}

// Get returns the integration's stored record with a strongly consistent
// read: ErrNotFound when there is none, ErrMalformed when it cannot be read.
func (s *Store) Get(ctx context.Context, integration string) (health.Record, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            stateKey(integration),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return health.Record{}, fmt.Errorf("store: get %s: %w", integration, err)
	}
	if len(out.Item) == 0 {
		return health.Record{}, fmt.Errorf("store: get %s: %w", integration, ErrNotFound)
	}
	r, err := decodeState(integration, out.Item)
	if err != nil {
		return health.Record{}, fmt.Errorf("store: get %s: %w", integration, err)
	}
	return r, nil
}

// List returns every stored record, sorted by integration name, reading all
// pages of one Query on the state partition.
//
// A malformed item does not hide the others: List returns the readable
// records together with an error wrapping ErrMalformed that names each bad
// item (each a *MalformedError, see MalformedItems), so a report can show
// what it has and flag the rest. Any other error returns no records.
func (s *Store) List(ctx context.Context) ([]health.Record, error) {
	items, err := s.partition(ctx, statePK, 0)
	if err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	var recs []health.Record
	var bad []error
	// Items arrive in sort-key order, which is UTF-8 byte order, which is
	// Go's string order: the result is sorted by name without a sort.
	for _, item := range items {
		name := stringAttr(item, attrSK)
		r, err := decodeState(name, item)
		if err != nil {
			bad = append(bad, fmt.Errorf("%s: %w", name, err))
			continue
		}
		recs = append(recs, r)
	}
	if len(bad) > 0 {
		return recs, fmt.Errorf("store: list: %w", errors.Join(bad...))
	}
	return recs, nil
}

func stateKey(integration string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: statePK},
		attrSK: &types.AttributeValueMemberS{Value: integration},
	}
}

// putStateInput builds the conditional write of r over version prev (0: no
// item yet). ALL_OLD makes a failed write carry the winner's item, so the
// loser re-applies without a read.
func (s *Store) putStateInput(r health.Record, prev int64) (*dynamodb.PutItemInput, error) {
	item, err := marshalState(r)
	if err != nil {
		return nil, err
	}
	item[attrPK] = &types.AttributeValueMemberS{Value: statePK}
	item[attrSK] = &types.AttributeValueMemberS{Value: r.Integration}
	item[attrKind] = &types.AttributeValueMemberS{Value: kindState}
	item[attrSchema] = &types.AttributeValueMemberN{Value: strconv.Itoa(schemaVersion)}
	in := &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                item,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if prev == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		in.ExpressionAttributeNames = map[string]string{"#pk": attrPK}
	} else {
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeNames = map[string]string{"#v": "version"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{
			":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(prev, 10)},
		}
	}
	return in, nil
}

// decodeState reads a state item of integration. No item is a fresh,
// uninitialized record. Errors wrap ErrMalformed and name every problem.
func decodeState(integration string, item map[string]types.AttributeValue) (health.Record, error) {
	if len(item) == 0 {
		return health.Record{Integration: integration, State: health.Uninitialized}, nil
	}
	var probs []string
	if k := describeAttr(item, attrKind); k != `"`+kindState+`"` {
		probs = append(probs, fmt.Sprintf("kind is %s, want %q", k, kindState))
	}
	if v := describeAttr(item, attrSchema); v != strconv.Itoa(schemaVersion) {
		probs = append(probs, fmt.Sprintf("schema is %s, want %d", v, schemaVersion))
	}
	var r health.Record
	if err := unmarshalState(item, &r); err != nil {
		probs = append(probs, err.Error())
	} else {
		if r.Integration != integration {
			probs = append(probs, fmt.Sprintf("integration attribute is %q", r.Integration))
		}
		if err := r.Validate(); err != nil {
			probs = append(probs, err.Error())
		}
	}
	if len(probs) > 0 {
		return health.Record{}, &MalformedError{Integration: integration, Problems: probs}
	}
	return r, nil
}

// MalformedError is why one stored state item cannot be read. It wraps
// ErrMalformed. List's error holds one for each unreadable item; find them
// all with MalformedItems.
type MalformedError struct {
	// Integration is the item's sort key: the integration it belongs to.
	Integration string
	// Problems name every attribute or rule the item fails, one each.
	Problems []string
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("%v %q: %s", ErrMalformed, e.Integration, strings.Join(e.Problems, "; "))
}

// Unwrap makes errors.Is(err, ErrMalformed) hold.
func (e *MalformedError) Unwrap() error { return ErrMalformed }

// MalformedItems returns every *MalformedError in err's tree, in the order
// they were found: each unreadable item named by List's error (or the one
// of Get's or Update's). errors.As would find only the first.
func MalformedItems(err error) []*MalformedError {
	var out []*MalformedError
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case nil:
		case *MalformedError:
			out = append(out, x)
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return out
}

// Bulky attributes are stored as one compact JSON string each rather than
// as nested DynamoDB maps: the availability buckets and latency samples and
// the history and the component results are hundreds of small values that
// nobody queries by field.
// A third of the item size (fewer write units per check) and a far cheaper
// decode for readers that list every integration.
var compactAttrs = []string{"availability", "history", "components"}

// marshalState is the state item of r without its keys.
func marshalState(r health.Record) (map[string]types.AttributeValue, error) {
	bulky := map[string]any{"availability": r.Availability, "history": r.History, "components": r.Components}
	r.Availability, r.History, r.Components = health.Availability{}, nil, nil
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return nil, fmt.Errorf("marshal record: %w", err)
	}
	for _, name := range compactAttrs {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		// Texts from targets end up here; escaping <, > and & would grow
		// them sixfold and nobody renders this JSON as HTML.
		enc.SetEscapeHTML(false)
		if err := enc.Encode(bulky[name]); err != nil {
			return nil, fmt.Errorf("marshal record %s: %w", name, err)
		}
		item[name] = &types.AttributeValueMemberS{Value: strings.TrimSuffix(b.String(), "\n")}
	}
	return item, nil
}

// unmarshalState decodes a state item into r; errors name the attributes
// that do not fit.
func unmarshalState(item map[string]types.AttributeValue, r *health.Record) error {
	rest := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		rest[k] = v
	}
	var probs []string
	targets := map[string]any{"availability": &r.Availability, "history": &r.History, "components": &r.Components}
	for _, name := range compactAttrs {
		av, ok := rest[name]
		if !ok {
			continue
		}
		delete(rest, name)
		sv, ok := av.(*types.AttributeValueMemberS)
		if !ok {
			probs = append(probs, fmt.Sprintf("attribute %s: want a JSON string, got %T", name, av))
			continue
		}
		if err := json.Unmarshal([]byte(sv.Value), targets[name]); err != nil {
			probs = append(probs, fmt.Sprintf("attribute %s: %v", name, err))
		}
	}
	if err := attributevalue.UnmarshalMap(rest, r); err != nil {
		probs = append(probs, undecodable(rest)...)
	}
	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "; "))
	}
	return nil
}

// undecodable names the attributes that do not fit the Record, by decoding
// them one at a time: the SDK's error for the whole map names only a type.
func undecodable(item map[string]types.AttributeValue) []string {
	var probs []string
	for name, av := range item {
		var r health.Record
		if err := attributevalue.UnmarshalMap(map[string]types.AttributeValue{name: av}, &r); err != nil {
			probs = append(probs, fmt.Sprintf("attribute %s: %v", name, err))
		}
	}
	if len(probs) == 0 {
		probs = append(probs, "item does not decode as a record")
	}
	// Map order is random; a stable message is easier to search logs for.
	slices.Sort(probs)
	return probs
}

// describeAttr renders a scalar attribute for an error message: a string
// quoted, a number bare, anything else by its type.
func describeAttr(item map[string]types.AttributeValue, name string) string {
	switch v := item[name].(type) {
	case nil:
		return "missing"
	case *types.AttributeValueMemberS:
		return strconv.Quote(v.Value)
	case *types.AttributeValueMemberN:
		return v.Value
	default:
		return fmt.Sprintf("a %T", v)
	}
}

func stringAttr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// backoff is full jitter over an exponential ceiling, so two losers of the
// same race do not collide again in lockstep.
func backoff(try int) time.Duration {
	ceiling := backoffBase << min(try, 10)
	if ceiling > backoffMax {
		ceiling = backoffMax
	}
	return time.Duration(rand.Int64N(int64(ceiling)) + 1)
}

// sleep waits d or until ctx ends, so retries honour the Lambda deadline.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
