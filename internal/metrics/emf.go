package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
)

// Limits of the CloudWatch Embedded Metric Format specification (and of a
// CloudWatch Logs event) that EMF keeps to.
const (
	// MaxMetricsPerDocument is the most MetricDefinitions one directive holds.
	MaxMetricsPerDocument = 100
	// MaxDimensions is the most dimension keys one DimensionSet holds.
	MaxDimensions = 30
	// MaxValuesPerMetric is the most values one metric target holds.
	MaxValuesPerMetric = 100
	// MaxDocumentBytes is the largest log event CloudWatch Logs accepts.
	MaxDocumentBytes = 256 << 10
)

// EMF writes datums as CloudWatch Embedded Metric Format documents, one JSON
// object per line, to w — on Lambda, standard output, from which CloudWatch
// Logs extracts the metrics. There is no metrics API call on the check's path
// and no failure mode that loses datums to a throttled or unreachable
// CloudWatch (SPEC §5, §9). It is safe for concurrent use.
type EMF struct {
	namespace string
	mu        sync.Mutex // serializes whole lines on w
	w         io.Writer
}

// NewEMF returns an EMF writer for namespace (DefaultNamespace when empty).
func NewEMF(w io.Writer, namespace string) *EMF {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return &EMF{namespace: namespace, w: w}
}

// Namespace is the namespace the documents declare.
func (e *EMF) Namespace() string { return e.namespace }

// Publish writes datums as EMF documents: one per timestamp and dimension
// set (with its values), at most MaxMetricsPerDocument metrics each, each
// document one line written with a single Write. It returns how many
// documents it wrote. An error means w refused a line; the documents before
// it were written.
func (e *EMF) Publish(_ context.Context, datums []Datum) (int, error) {
	docs, err := Encode(e.namespace, datums)
	if err != nil {
		return 0, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, d := range docs {
		if _, err := e.w.Write(d); err != nil {
			return i, fmt.Errorf("metrics: write EMF document %d of %d: %w", i+1, len(docs), err)
		}
	}
	return len(docs), nil
}

// Encode renders datums as EMF documents, each a JSON object ending in a
// newline, in a deterministic order: groups in the order their first datum
// comes, metrics in datum order. Datums of one metric in one group become
// an array of values. A datum whose name or dimensions the format cannot
// carry (a metric named like a dimension, too many dimensions, an empty
// name) is an error naming it: the builders never make one.
func Encode(namespace string, datums []Datum) ([][]byte, error) {
	type group struct {
		at     time.Time
		dims   []Dim
		names  []string
		units  map[string]string
		values map[string][]float64
	}
	var groups []*group
	index := map[string]*group{}
	for _, d := range datums {
		if err := checkDatum(d); err != nil {
			return nil, err
		}
		key := groupKey(d)
		g := index[key]
		if g == nil || len(g.names) == MaxMetricsPerDocument && g.values[d.Name] == nil ||
			len(g.values[d.Name]) == MaxValuesPerMetric {
			g = &group{at: d.At, dims: d.Dims, units: map[string]string{}, values: map[string][]float64{}}
			groups = append(groups, g)
			index[key] = g
		}
		if _, seen := g.values[d.Name]; !seen {
			g.names = append(g.names, d.Name)
			g.units[d.Name] = d.Unit
		}
		g.values[d.Name] = append(g.values[d.Name], d.Value)
	}
	out := make([][]byte, 0, len(groups))
	for _, g := range groups {
		var b bytes.Buffer
		b.WriteString(`{"_aws":{"Timestamp":`)
		b.WriteString(strconv.FormatInt(g.at.UnixMilli(), 10))
		b.WriteString(`,"CloudWatchMetrics":[{"Namespace":`)
		writeString(&b, namespace)
		b.WriteString(`,"Dimensions":[[`)
		for i, dim := range g.dims {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(&b, dim.Name)
		}
		b.WriteString(`]],"Metrics":[`)
		for i, name := range g.names {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"Name":`)
			writeString(&b, name)
			if u := g.units[name]; u != "" {
				b.WriteString(`,"Unit":`)
				writeString(&b, u)
			}
			b.WriteByte('}')
		}
		b.WriteString(`]}]}`)
		for _, dim := range g.dims {
			b.WriteByte(',')
			writeString(&b, dim.Name)
			b.WriteByte(':')
			writeString(&b, dim.Value)
		}
		for _, name := range g.names {
			b.WriteByte(',')
			writeString(&b, name)
			b.WriteByte(':')
			vs := g.values[name]
			if len(vs) == 1 {
				b.WriteString(strconv.FormatFloat(vs[0], 'g', -1, 64))
				continue
			}
			b.WriteByte('[')
			for i, v := range vs {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			}
			b.WriteByte(']')
		}
		b.WriteString("}\n")
		if b.Len() > MaxDocumentBytes {
			return nil, fmt.Errorf("metrics: EMF document of %d bytes over the %d a log event may hold", b.Len(), MaxDocumentBytes)
		}
		out = append(out, b.Bytes())
	}
	return out, nil
}

// reservedMember is the metadata member of every document.
const reservedMember = "_aws"

// checkDatum refuses what a document cannot carry.
func checkDatum(d Datum) error {
	switch {
	case d.Name == "" || d.Name == reservedMember:
		return fmt.Errorf("metrics: metric name %q cannot be an EMF member", d.Name)
	case len(d.Dims) > MaxDimensions:
		return fmt.Errorf("metrics: metric %s has %d dimensions, at most %d", d.Name, len(d.Dims), MaxDimensions)
	case math.IsNaN(d.Value) || math.IsInf(d.Value, 0):
		return fmt.Errorf("metrics: metric %s value %v is not a number JSON can hold", d.Name, d.Value)
	case d.Unit != "" && !slices.Contains(config.CloudWatchUnits, d.Unit):
		return fmt.Errorf("metrics: metric %s unit %q is not a CloudWatch unit", d.Name, d.Unit)
	}
	for _, dim := range d.Dims {
		if dim.Name == d.Name || dim.Name == "" || dim.Name == reservedMember {
			return fmt.Errorf("metrics: metric %s has a dimension named %q, which cannot be an EMF member beside it", d.Name, dim.Name)
		}
	}
	return nil
}

// groupKey identifies a datum's document: its time and its dimensions.
func groupKey(d Datum) string {
	var b strings.Builder
	b.WriteString(strconv.FormatInt(d.At.UnixMilli(), 10))
	for _, dim := range d.Dims {
		b.WriteByte(0)
		b.WriteString(dim.Name)
		b.WriteByte(0)
		b.WriteString(dim.Value)
	}
	return b.String()
}

// writeString writes s as a JSON string.
func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a Go string always marshals
	b.Write(enc)
}

// ErrNotEMF: a log line is not an EMF document at all (no _aws member);
// ParseEMF returns it so a reader of mixed logs can skip such lines.
var ErrNotEMF = errors.New("not an EMF document")

// Extracted is a datum read back from an EMF document, with the namespace
// its directive named.
type Extracted struct {
	Namespace string
	Datum
}

// ParseEMF reads one log line as an EMF document and returns its datums
// (dimensions in DimensionSet order), validating it against the Embedded
// Metric Format specification: a JSON object alone on the line, a metadata
// object with an integer Timestamp and CloudWatchMetrics, each directive
// with a Namespace, at least one DimensionSet of at most MaxDimensions keys
// and at most MaxMetricsPerDocument metrics, each metric and dimension key a
// member of the root with a number (or an array of at most
// MaxValuesPerMetric numbers) and a string value, units among CloudWatch's.
// Lines without _aws yield ErrNotEMF; a malformed document an error saying
// what is wrong. It is what the local run uses in place of CloudWatch Logs'
// extraction, and what the tests hold documents to.
func ParseEMF(line []byte) ([]Extracted, error) {
	line = bytes.TrimSpace(line)
	if len(line) > MaxDocumentBytes {
		return nil, fmt.Errorf("metrics: EMF document of %d bytes over %d", len(line), MaxDocumentBytes)
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		if bytes.Contains(line, []byte(`"_aws"`)) {
			return nil, fmt.Errorf("metrics: EMF: not a JSON object: %w", err)
		}
		return nil, ErrNotEMF
	}
	meta, ok := root[reservedMember]
	if !ok {
		return nil, ErrNotEMF
	}
	var md struct {
		Timestamp         *json.Number
		CloudWatchMetrics *[]struct {
			Namespace  *string
			Dimensions *[][]string
			Metrics    *[]struct {
				Name *string
				Unit *string
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(meta))
	dec.UseNumber()
	if err := dec.Decode(&md); err != nil {
		return nil, fmt.Errorf("metrics: EMF: _aws: %w", err)
	}
	if md.Timestamp == nil || md.CloudWatchMetrics == nil {
		return nil, errors.New("metrics: EMF: _aws needs Timestamp and CloudWatchMetrics")
	}
	ms, err := strconv.ParseInt(md.Timestamp.String(), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("metrics: EMF: Timestamp %s is not an integer of milliseconds", md.Timestamp)
	}
	at := time.UnixMilli(ms).UTC()
	var out []Extracted
	for i, dir := range *md.CloudWatchMetrics {
		where := fmt.Sprintf("metrics: EMF: directive %d", i+1)
		switch {
		case dir.Namespace == nil || *dir.Namespace == "" || len(*dir.Namespace) > 255:
			return nil, fmt.Errorf("%s: Namespace missing, empty or over 255 characters", where)
		case dir.Dimensions == nil || len(*dir.Dimensions) == 0:
			return nil, fmt.Errorf("%s: Dimensions needs at least one DimensionSet", where)
		case dir.Metrics == nil:
			return nil, fmt.Errorf("%s: Metrics missing", where)
		case len(*dir.Metrics) > MaxMetricsPerDocument:
			return nil, fmt.Errorf("%s: %d metrics, at most %d", where, len(*dir.Metrics), MaxMetricsPerDocument)
		}
		for _, set := range *dir.Dimensions {
			if len(set) > MaxDimensions {
				return nil, fmt.Errorf("%s: a DimensionSet of %d keys, at most %d", where, len(set), MaxDimensions)
			}
			dims := make([]Dim, 0, len(set))
			for _, key := range set {
				var v string
				raw, ok := root[key]
				if !ok || json.Unmarshal(raw, &v) != nil {
					return nil, fmt.Errorf("%s: dimension %q is not a string member of the root", where, key)
				}
				dims = append(dims, Dim{key, v})
			}
			for _, m := range *dir.Metrics {
				if m.Name == nil || *m.Name == "" {
					return nil, fmt.Errorf("%s: a metric without a Name", where)
				}
				unit := UnitNone
				if m.Unit != nil {
					unit = *m.Unit
				}
				if !slices.Contains(config.CloudWatchUnits, unit) {
					return nil, fmt.Errorf("%s: metric %s unit %q is not a CloudWatch unit", where, *m.Name, unit)
				}
				values, err := metricValues(root[*m.Name])
				if err != nil {
					return nil, fmt.Errorf("%s: metric %s: %w", where, *m.Name, err)
				}
				for _, v := range values {
					out = append(out, Extracted{*dir.Namespace, Datum{Name: *m.Name, Dims: dims, Value: v, Unit: unit, At: at}})
				}
			}
		}
	}
	return out, nil
}

// metricValues reads a metric target: a number or an array of numbers.
func metricValues(raw json.RawMessage) ([]float64, error) {
	if raw == nil {
		return nil, errors.New("no member of that name at the root")
	}
	var one float64
	if err := json.Unmarshal(raw, &one); err == nil {
		return []float64{one}, nil
	}
	var many []float64
	if err := json.Unmarshal(raw, &many); err != nil || len(many) == 0 {
		return nil, errors.New("its member is neither a number nor an array of numbers")
	}
	if len(many) > MaxValuesPerMetric {
		return nil, fmt.Errorf("%d values, at most %d", len(many), MaxValuesPerMetric)
	}
	return many, nil
}
