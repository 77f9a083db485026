package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/probe/outcome"
)

// Sharded and multi-region checks keep four more kinds of item (layout at
// the top of store.go). Shard labels ("i/n") and region names are key
// parts: 1 to 64 bytes without '#'.
const (
	obsPrefix       = "OBS#"
	openPrefix      = "OPEN#"
	shardPK         = "SHARD"
	regionPK        = "REGION"
	kindObservation = "observation"
	kindShard       = "shard"
	kindRegion      = "region"

	maxKeyPart     = 64
	maxMetricName  = 255     // config's limit
	maxResultsJSON = 8 << 20 // decompressed: a gzip bomb stops here
	maxLatency     = 15 * time.Minute
	maxOpenTicks   = 10
	maxObsItems    = 64   // observations of one (tick, shard): more than there are regions
	maxPartition   = 1000 // heartbeats or region statuses
	maxProblems    = 5    // per observation, so one bad item cannot flood the log

	// ObservationTTL is how long after its tick an observation and its open
	// marker live: a tick is decided within minutes or never.
	ObservationTTL = time.Hour
	// ShardTTL is how long after its tick a heartbeat lives, so the shards
	// of a plan no longer in use disappear.
	ShardTTL = 7 * 24 * time.Hour
	// MaxObservationItem is the largest observation item written: below
	// DynamoDB's 400 KB with a margin.
	MaxObservationItem = 350 << 10
	// MaxObservationResults bounds the results of one observation.
	MaxObservationResults = 10_000
)

// Observation is one region's probe results for one shard of one tick,
// written to the home region's table.
type Observation struct {
	Tick     time.Time
	Shard    string                      // "i/n"
	Region   string                      // the observing region
	Results  map[string][]outcome.Result // by integration name
	Impaired string                      // the region's own checker impairment cause, "" when none
	At       time.Time                   // when written
}

// RegionStatus is whether a probing region is impaired.
type RegionStatus struct {
	Region   string
	Impaired bool
	Cause    string
	Since    time.Time
	Version  int64 // counts writes; SetRegionStatus is conditional on it
}

// PutObservation writes o and the shard's open marker for o.Tick in one
// BatchWriteItem, both expiring ObservationTTL after the tick; writing it
// again overwrites both. o.Impaired is cut to bound.Cause.
//
// The results are gzip-compressed JSON in a binary attribute: DynamoDB bills
// writes per KB, and results (repeated field names, similar errors) shrink
// several-fold, so a large shard's report costs a few write units rather
// than dozens and reaches the item limit far later. An item still over
// MaxObservationItem, or an observation Observations would skip, is refused
// with an error and nothing is written: results are never silently cut.
func (s *Store) PutObservation(ctx context.Context, o Observation) error {
	o.Impaired = bound.Text(o.Impaired, bound.Cause)
	what := fmt.Sprintf("store: put observation of shard %s by %s", bound.Text(o.Shard, bound.Value), bound.Text(o.Region, bound.Value))
	if p := observationProblems(o); len(p) > 0 {
		return fmt.Errorf("%s: refusing to write: %s", what, strings.Join(p, "; "))
	}
	item, err := observationItem(o)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n := ItemSize(item); n > MaxObservationItem {
		return fmt.Errorf("%s: item is %d bytes compressed, over the %d-byte limit: split the shard", what, n, MaxObservationItem)
	}
	open := keyOf(openPrefix+o.Shard, openSK(o.Tick))
	open[attrExpiresAt] = item[attrExpiresAt]
	if err := s.batchWrite(ctx, []types.WriteRequest{{PutRequest: &types.PutRequest{Item: item}}, {PutRequest: &types.PutRequest{Item: open}}}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// observationItem is o's stored item.
func observationItem(o Observation) (map[string]types.AttributeValue, error) {
	var js, gz bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false) // see marshalState
	if err := enc.Encode(o.Results); err != nil {
		return nil, fmt.Errorf("marshal results: %w", err)
	}
	if js.Len() > maxResultsJSON {
		return nil, fmt.Errorf("results are %d bytes of JSON, over the %d-byte limit", js.Len(), maxResultsJSON)
	}
	w := gzip.NewWriter(&gz)
	_, _ = w.Write(js.Bytes()) // a bytes.Buffer takes everything
	_ = w.Close()
	item := keyOf(obsPK(o.Tick, o.Shard), o.Region)
	item[attrKind], item[attrSchema] = sAttr(kindObservation), nAttr(schemaVersion)
	item["tick"], item["shard"], item["region"] = sAttr(rfc(o.Tick)), sAttr(o.Shard), sAttr(o.Region)
	item["impaired"], item["at"] = sAttr(o.Impaired), sAttr(rfc(o.At))
	item["results"] = &types.AttributeValueMemberB{Value: gz.Bytes()}
	item[attrExpiresAt] = nAttr(o.Tick.Add(ObservationTTL).Unix())
	return item, nil
}

// Observations returns every region's observation of (tick, shard), read
// strongly consistently, sorted by region.
//
// A malformed item (not gzip or not JSON, wrong kind or schema, attributes
// that do not match its key, over MaxObservationResults results, a result
// out of bounds) does not hide the others: they are returned together with
// an error wrapping ErrMalformed that names each bad item by its region, so
// the caller can log it and decide with what it has. Any other error
// returns no observations.
func (s *Store) Observations(ctx context.Context, tick time.Time, shard string) ([]Observation, error) {
	if p := keyProblems("shard", shard, nil); len(p) > 0 {
		return nil, fmt.Errorf("store: observations: %s", p[0])
	}
	pk := obsPK(tick, shard)
	items, err := s.partition(ctx, pk, maxObsItems)
	if err != nil {
		return nil, fmt.Errorf("store: observations %s: %w", pk, err)
	}
	var obs []Observation
	if err := decodeEach(items, "observation by region", func(item map[string]types.AttributeValue) []string {
		o, p := decodeObservation(item)
		if len(p) == 0 {
			obs = append(obs, o) // in sort-key order: by region
		}
		return p
	}); err != nil {
		return obs, fmt.Errorf("store: observations %s: %w", pk, err)
	}
	return obs, nil
}

func decodeObservation(item map[string]types.AttributeValue) (Observation, []string) {
	p := kindProblems(item, kindObservation)
	if v := describeAttr(item, attrSchema); v != strconv.Itoa(schemaVersion) {
		p = append(p, fmt.Sprintf("schema is %s, want %d", bound.Text(v, bound.Value), schemaVersion))
	}
	o := Observation{Shard: stringAttr(item, "shard"), Region: stringAttr(item, "region"), Impaired: stringAttr(item, "impaired")}
	o.Tick, p = timeAttr(item, "tick", p)
	o.At, p = timeAttr(item, "at", p)
	if stringAttr(item, attrPK) != obsPK(o.Tick, o.Shard) || stringAttr(item, attrSK) != o.Region {
		p = append(p, fmt.Sprintf("key does not match tick, shard %s and region %s", bound.Quote(o.Shard), bound.Quote(o.Region)))
	}
	b, ok := item["results"].(*types.AttributeValueMemberB)
	if !ok {
		return o, append(p, "attribute results is not binary")
	}
	zr, err := gzip.NewReader(bytes.NewReader(b.Value))
	var js []byte
	if err == nil {
		js, err = io.ReadAll(io.LimitReader(zr, maxResultsJSON+1))
	}
	if err == nil && len(js) > maxResultsJSON {
		err = fmt.Errorf("over %d bytes decompressed", maxResultsJSON)
	}
	if err == nil {
		err = json.Unmarshal(js, &o.Results)
	}
	if err != nil {
		return o, append(p, "attribute results: "+bound.Text(err.Error(), bound.Message))
	}
	return o, append(p, observationProblems(o)...)
}

// observationProblems names the bounds o breaks; PutObservation refuses what
// Observations would skip.
func observationProblems(o Observation) []string {
	p := keyProblems("shard", o.Shard, keyProblems("region", o.Region, nil))
	if o.Tick.IsZero() {
		p = append(p, "tick is zero")
	}
	if len(o.Impaired) > bound.Cause {
		p = append(p, fmt.Sprintf("impaired cause is %d bytes, over %d", len(o.Impaired), bound.Cause))
	}
	n := 0
	for _, name := range slices.Sorted(maps.Keys(o.Results)) {
		if name == "" || len(name) > config.MaxNameLen {
			p = append(p, fmt.Sprintf("integration name %s is not 1-%d bytes", bound.Quote(name), config.MaxNameLen))
		}
		n += len(o.Results[name])
		for i, r := range o.Results[name] {
			if bad := resultProblem(r); bad != "" && len(p) < maxProblems {
				p = append(p, fmt.Sprintf("integration %s result %d: %s", bound.Quote(name), i, bad))
			}
		}
	}
	if n > MaxObservationResults {
		p = append(p, fmt.Sprintf("%d results, over %d", n, MaxObservationResults))
	}
	return p
}

func resultProblem(r outcome.Result) string {
	switch {
	case r.Component == "" || len(r.Component) > config.MaxNameLen:
		return fmt.Sprintf("component name %s is not 1-%d bytes", bound.Quote(r.Component), config.MaxNameLen)
	case r.Latency < 0 || r.Latency > maxLatency:
		return fmt.Sprintf("latency %s is not within 0-%s", r.Latency, maxLatency)
	case len(r.Error) > bound.Error:
		return fmt.Sprintf("error is %d bytes, over %d", len(r.Error), bound.Error)
	case len(r.Phase) > bound.Value:
		return fmt.Sprintf("phase is %d bytes, over %d", len(r.Phase), bound.Value)
	case !slices.Contains([]outcome.Side{"", outcome.SideTarget, outcome.SideChecker, outcome.SideUnknown}, r.Side):
		return fmt.Sprintf("side %s is unknown", bound.Quote(string(r.Side)))
	case r.StatusCode != 0 && (r.StatusCode < 100 || r.StatusCode > 999):
		return fmt.Sprintf("status code %d is not 100-999", r.StatusCode)
	case len(r.Metrics) > config.MaxMetrics:
		return fmt.Sprintf("%d metrics, over %d", len(r.Metrics), config.MaxMetrics)
	}
	for m := range r.Metrics {
		if m == "" || len(m) > maxMetricName {
			return fmt.Sprintf("metric name %s is not 1-%d bytes", bound.Quote(m), maxMetricName)
		}
	}
	return ""
}

// OpenTicks returns the shard's ticks that have an open marker and are
// strictly before before, oldest first, at most 10. A marker whose sort key
// is not a time is skipped and named in an error wrapping ErrMalformed.
func (s *Store) OpenTicks(ctx context.Context, shard string, before time.Time) ([]time.Time, error) {
	if p := keyProblems("shard", shard, nil); len(p) > 0 {
		return nil, fmt.Errorf("store: open ticks: %s", p[0])
	}
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk < :before"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": sAttr(openPrefix + shard), ":before": sAttr(openSK(before))},
		ConsistentRead:            aws.Bool(true),
		Limit:                     aws.Int32(maxOpenTicks),
	})
	if err != nil {
		return nil, fmt.Errorf("store: open ticks of shard %s: %w", shard, err)
	}
	var ticks []time.Time
	if err := decodeEach(out.Items, "open marker", func(item map[string]types.AttributeValue) []string {
		t, p := timeAttr(item, attrSK, nil)
		if len(p) == 0 {
			ticks = append(ticks, t)
		}
		return p
	}); err != nil {
		return ticks, fmt.Errorf("store: open ticks of shard %s: %w", shard, err)
	}
	return ticks, nil
}

// CloseTick deletes the open marker of (tick, shard); closing a closed tick
// is no error. It is a one-item BatchWriteItem: ItemAPI has no DeleteItem.
func (s *Store) CloseTick(ctx context.Context, tick time.Time, shard string) error {
	if p := keyProblems("shard", shard, nil); len(p) > 0 {
		return fmt.Errorf("store: close tick: %s", p[0])
	}
	del := &types.DeleteRequest{Key: keyOf(openPrefix+shard, openSK(tick))}
	if err := s.batchWrite(ctx, []types.WriteRequest{{DeleteRequest: del}}); err != nil {
		return fmt.Errorf("store: close tick %s of shard %s: %w", rfc(tick), shard, err)
	}
	return nil
}

// ShardTick returns the last tick the shard reported done (zero when never),
// read strongly consistently.
func (s *Store) ShardTick(ctx context.Context, shard string) (time.Time, error) {
	if p := keyProblems("shard", shard, nil); len(p) > 0 {
		return time.Time{}, fmt.Errorf("store: shard tick: %s", p[0])
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: keyOf(shardPK, shard), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return time.Time{}, fmt.Errorf("store: shard tick %s: %w", shard, err)
	}
	if len(out.Item) == 0 {
		return time.Time{}, nil
	}
	tick, p := timeAttr(out.Item, "tick", kindProblems(out.Item, kindShard))
	if len(p) > 0 {
		return time.Time{}, fmt.Errorf("store: shard tick: %w", malformed("heartbeat "+bound.Quote(shard), p))
	}
	return tick, nil
}

// PutShardTick records that the shard finished tick, at at. It only moves
// forward: when the stored tick is the same or later, the item is left as it
// is and the result is false, nil. The heartbeat expires ShardTTL after its
// tick, which is stored fixed width (as open markers' sort keys) so that the
// condition's string comparison is time order.
func (s *Store) PutShardTick(ctx context.Context, shard string, tick, at time.Time) (bool, error) {
	if p := keyProblems("shard", shard, nil); len(p) > 0 {
		return false, fmt.Errorf("store: put shard tick: %s", p[0])
	}
	item := keyOf(shardPK, shard)
	item[attrKind], item["tick"], item["at"] = sAttr(kindShard), sAttr(openSK(tick)), sAttr(rfc(at))
	item[attrExpiresAt] = nAttr(tick.Add(ShardTTL).Unix())
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #tick < :tick"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#tick": "tick"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":tick": item["tick"]},
	})
	return written(err, "put shard tick "+shard)
}

// ShardTicks returns every heartbeat's tick by shard. Malformed heartbeats
// are skipped and named in an error wrapping ErrMalformed; the others are
// returned with it.
func (s *Store) ShardTicks(ctx context.Context) (map[string]time.Time, error) {
	items, err := s.partition(ctx, shardPK, maxPartition)
	if err != nil {
		return nil, fmt.Errorf("store: shard ticks: %w", err)
	}
	ticks := map[string]time.Time{}
	if err := decodeEach(items, "heartbeat", func(item map[string]types.AttributeValue) []string {
		shard := stringAttr(item, attrSK)
		tick, p := timeAttr(item, "tick", keyProblems("shard", shard, kindProblems(item, kindShard)))
		if len(p) == 0 {
			ticks[shard] = tick
		}
		return p
	}); err != nil {
		return ticks, fmt.Errorf("store: shard ticks: %w", err)
	}
	return ticks, nil
}

// RegionStatuses returns every probing region's status by region, read
// strongly consistently. Malformed items are skipped and named in an error
// wrapping ErrMalformed; the others are returned with it.
func (s *Store) RegionStatuses(ctx context.Context) (map[string]RegionStatus, error) {
	items, err := s.partition(ctx, regionPK, maxPartition)
	if err != nil {
		return nil, fmt.Errorf("store: region statuses: %w", err)
	}
	sts := map[string]RegionStatus{}
	if err := decodeEach(items, "region status", func(item map[string]types.AttributeValue) []string {
		st := RegionStatus{Region: stringAttr(item, attrSK), Cause: stringAttr(item, "cause")}
		p := keyProblems("region", st.Region, kindProblems(item, kindRegion))
		imp, ok := item["impaired"].(*types.AttributeValueMemberBOOL)
		if st.Impaired = ok && imp.Value; !ok {
			p = append(p, "attribute impaired is not a boolean")
		}
		if len(st.Cause) > bound.Cause {
			p = append(p, fmt.Sprintf("cause is %d bytes, over %d", len(st.Cause), bound.Cause))
		}
		st.Since, p = timeAttr(item, "since", p)
		v, err := strconv.ParseInt(numberAttr(item, "version"), 10, 64)
		if st.Version = v; err != nil || v < 1 {
			p = append(p, "version is not a number of at least 1")
		}
		if len(p) == 0 {
			sts[st.Region] = st
		}
		return p
	}); err != nil {
		return sts, fmt.Errorf("store: region statuses: %w", err)
	}
	return sts, nil
}

// SetRegionStatus writes st if the stored status still has prevVersion
// (0: none stored); st.Version is ignored and the stored version becomes
// prevVersion+1. st.Cause is cut to bound.Cause. When another writer changed
// the status first, nothing is written and the result is false, nil.
func (s *Store) SetRegionStatus(ctx context.Context, st RegionStatus, prevVersion int64) (bool, error) {
	if p := keyProblems("region", st.Region, nil); len(p) > 0 {
		return false, fmt.Errorf("store: set region status: %s", p[0])
	}
	if prevVersion < 0 {
		return false, fmt.Errorf("store: set region status %s: previous version %d is negative", st.Region, prevVersion)
	}
	item := keyOf(regionPK, st.Region)
	item[attrKind], item["impaired"] = sAttr(kindRegion), &types.AttributeValueMemberBOOL{Value: st.Impaired}
	item["cause"], item["since"] = sAttr(bound.Text(st.Cause, bound.Cause)), sAttr(rfc(st.Since))
	item["version"] = nAttr(prevVersion + 1)
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(#pk)"), ExpressionAttributeNames: map[string]string{"#pk": attrPK}}
	if prevVersion > 0 {
		in.ConditionExpression, in.ExpressionAttributeNames = aws.String("#v = :v"), map[string]string{"#v": "version"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": nAttr(prevVersion)}
	}
	_, err := s.client.PutItem(ctx, in)
	return written(err, "set region status "+st.Region)
}

// partition reads every item of pk, strongly consistently, in sort-key
// order; more than limit items (when limit > 0) is an error, for the
// partitions that never grow so large.
func (s *Store) partition(ctx context.Context, pk string, limit int) ([]map[string]types.AttributeValue, error) {
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": sAttr(pk)},
		ConsistentRead:            aws.Bool(true),
	})
	var items []map[string]types.AttributeValue
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		if items = append(items, page.Items...); limit > 0 && len(items) > limit {
			return nil, fmt.Errorf("over %d items", limit)
		}
	}
	return items, nil
}

// decodeEach runs decode on each item and returns an error naming each item
// (what and its sort key) that decode found problems with, or nil.
func decodeEach(items []map[string]types.AttributeValue, what string, decode func(map[string]types.AttributeValue) []string) error {
	var bad []error
	for _, item := range items {
		if p := decode(item); len(p) > 0 {
			bad = append(bad, malformed(what+" "+bound.Quote(stringAttr(item, attrSK)), p))
		}
	}
	return errors.Join(bad...)
}

func malformed(what string, problems []string) error {
	return fmt.Errorf("%s: %w: %s", what, ErrMalformed, strings.Join(problems, "; "))
}

// written is a conditional write's outcome: a failed condition is false, nil.
func written(err error, what string) (bool, error) {
	var ccf *types.ConditionalCheckFailedException
	if err == nil || errors.As(err, &ccf) {
		return err == nil, nil
	}
	return false, fmt.Errorf("store: %s: %w", what, err)
}

func kindProblems(item map[string]types.AttributeValue, want string) []string {
	if k := describeAttr(item, attrKind); k != strconv.Quote(want) {
		return []string{fmt.Sprintf("kind is %s, want %q", bound.Text(k, bound.Value), want)}
	}
	return nil
}

func keyProblems(what, v string, p []string) []string {
	if v == "" || len(v) > maxKeyPart || strings.Contains(v, "#") {
		return append(p, fmt.Sprintf("%s %s is not 1-%d bytes without '#'", what, bound.Quote(v), maxKeyPart))
	}
	return p
}

func timeAttr(item map[string]types.AttributeValue, name string, p []string) (time.Time, []string) {
	t, err := time.Parse(time.RFC3339Nano, stringAttr(item, name))
	if err != nil {
		return time.Time{}, append(p, fmt.Sprintf("attribute %s is not an RFC 3339 time", name))
	}
	return t.UTC(), p
}

func obsPK(tick time.Time, shard string) string { return obsPrefix + rfc(tick) + "#" + shard }

// openSK is HistorySK's fixed-width layout: sort-key order is time order.
func openSK(tick time.Time) string { return tick.UTC().Format(historyTimeLayout) }

func rfc(t time.Time) string              { return t.UTC().Format(time.RFC3339Nano) }
func sAttr(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func nAttr(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func keyOf(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: sAttr(pk), attrSK: sAttr(sk)}
}
