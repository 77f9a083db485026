package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/probe"
)

// A check's datums go out as EMF documents and come back, through the
// specification's rules, as the same datums: names, units, dimensions,
// values and times.
func TestEMFRoundTrip(t *testing.T) {
	integ := integration(true)
	rec := health.Record{Integration: integ.Name, State: health.Failed, Score: 33.3, LastTick: tick, ConsecutiveFailures: 3,
		Availability: health.Availability{LatencyMs: []float64{12.5}}}
	results := []probe.Result{
		{Component: "orchestrator", Latency: 12 * time.Millisecond, Metrics: map[string]float64{"MemoryMB": 812, "AsyncTasks": 7}},
		{Component: "websocket-manager", Healthy: true, Latency: 3 * time.Millisecond, CertDaysLeft: ptr(5.5)},
	}
	var want []Datum
	want = append(want, ForCheck(integ, rec, results, tick)...)
	want = append(want, CheckerImpaired(tick, 2)...)
	want = append(want, ForRecovery(integ.Name, Failed, time.Second, tick.Add(time.Second))...)

	var out bytes.Buffer
	e := NewEMF(&out, "VigilTest")
	docs, err := e.Publish(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != docs {
		t.Fatalf("%d documents reported, %d lines written", docs, len(lines))
	}
	// One document per time and dimension set: integration, each
	// component, the dimensionless one, the recovery a second later.
	if docs != 5 {
		t.Fatalf("%d documents, want 5:\n%s", docs, out.String())
	}
	var got []Datum
	for _, l := range lines {
		ds, err := ParseEMF([]byte(l))
		if err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		for _, d := range ds {
			if d.Namespace != "VigilTest" {
				t.Fatalf("namespace %q", d.Namespace)
			}
			got = append(got, d.Datum)
		}
		var doc struct {
			AWS struct {
				CloudWatchMetrics []struct{ Namespace string }
			} `json:"_aws"`
		}
		if err := json.Unmarshal([]byte(l), &doc); err != nil || doc.AWS.CloudWatchMetrics[0].Namespace != "VigilTest" {
			t.Fatalf("namespace of %s: %v", l, err)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d datums back, want %d", len(got), len(want))
	}
	flatten := func(ds []Datum) map[string]int {
		m := map[string]int{}
		for _, d := range ds {
			m[flat(d)+"@"+d.At.Format(time.RFC3339Nano)]++
		}
		return m
	}
	if g, w := flatten(got), flatten(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("datums back\n%v\nwant\n%v", g, w)
	}
}

// Documents stay within the specification's limits however many datums a
// check makes: at most 100 metrics each, at most 100 values per metric.
func TestEMFLimits(t *testing.T) {
	var ds []Datum
	dims := []Dim{{DimIntegration, "big"}}
	for i := range 250 {
		ds = append(ds, Datum{fmt.Sprintf("M%03d", i), dims, float64(i), UnitCount, tick})
	}
	for i := range 150 { // one metric, many values
		ds = append(ds, Datum{"Repeated", dims, float64(i), UnitCount, tick})
	}
	docs, err := Encode("Vigil", ds)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, d := range docs {
		var doc struct {
			AWS struct {
				CloudWatchMetrics []struct{ Metrics []struct{ Name string } }
			} `json:"_aws"`
			Repeated json.RawMessage
		}
		if err := json.Unmarshal(d, &doc); err != nil {
			t.Fatal(err)
		}
		if n := len(doc.AWS.CloudWatchMetrics[0].Metrics); n > MaxMetricsPerDocument {
			t.Fatalf("a document with %d metrics", n)
		}
		var vs []float64
		if json.Unmarshal(doc.Repeated, &vs) == nil && len(vs) > MaxValuesPerMetric {
			t.Fatalf("a metric with %d values", len(vs))
		}
		back, err := ParseEMF(d)
		if err != nil {
			t.Fatal(err)
		}
		total += len(back)
	}
	if total != len(ds) {
		t.Fatalf("%d datums back, want %d", total, len(ds))
	}
}

// What the format cannot carry is refused by name, not written wrong.
func TestEMFRefusesWhatItCannotCarry(t *testing.T) {
	for name, d := range map[string]Datum{
		"NaN":                       {"M", nil, math.NaN(), UnitNone, tick},
		"metric named like its dim": {"Integration", []Dim{{DimIntegration, "x"}}, 1, UnitNone, tick},
		"reserved member":           {"_aws", nil, 1, UnitNone, tick},
		"unknown unit":              {"M", nil, 1, "MB", tick},
		"31 dimensions":             {"M", make([]Dim, 31), 1, UnitNone, tick},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Encode("Vigil", []Datum{d}); err == nil {
				t.Fatal("encoded")
			}
		})
	}
}

// ParseEMF holds a document to the specification: a test can trust what it
// accepts, and the local run never invents a metric CloudWatch would refuse.
func TestParseEMFRejectsMalformed(t *testing.T) {
	const ok = `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"V","Dimensions":[["I"]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"I":"x","M":1}`
	if ds, err := ParseEMF([]byte(ok)); err != nil || len(ds) != 1 || ds[0].Value != 1 || ds[0].Dims[0] != (Dim{"I", "x"}) {
		t.Fatalf("valid document: %v, %v", ds, err)
	}
	for name, tc := range map[string]struct{ doc, want string }{
		"no timestamp":          {`{"_aws":{"CloudWatchMetrics":[]},"M":1}`, "Timestamp"},
		"timestamp not integer": {`{"_aws":{"Timestamp":1.5,"CloudWatchMetrics":[]}}`, "integer"},
		"no namespace":          {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[]}]}}`, "Namespace"},
		"no dimension set":      {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"V","Dimensions":[],"Metrics":[]}]}}`, "DimensionSet"},
		"dimension missing":     {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"V","Dimensions":[["I"]],"Metrics":[{"Name":"M"}]}]},"M":1}`, `dimension "I"`},
		"dimension not string":  {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"V","Dimensions":[["I"]],"Metrics":[{"Name":"M"}]}]},"I":3,"M":1}`, `dimension "I"`},
		"metric missing":        {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"V","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]}}`, "metric M"},
		"metric not number":     {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"V","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]},"M":"1"}`, "metric M"},
		"bad unit":              {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"V","Dimensions":[[]],"Metrics":[{"Name":"M","Unit":"MB"}]}]},"M":1}`, "unit"},
		"101 metrics":           {manyMetrics(101), "at most 100"},
		"trailing garbage":      {ok + ` x`, "not a JSON object"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseEMF([]byte(tc.doc))
			if err == nil || errors.Is(err, ErrNotEMF) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
	// A log line that is no EMF at all is told apart, so a reader of the
	// functions' mixed output can skip it.
	for _, line := range []string{`{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"check done"}`, `START RequestId: 1`} {
		if _, err := ParseEMF([]byte(line)); !errors.Is(err, ErrNotEMF) {
			t.Fatalf("%s: err = %v, want ErrNotEMF", line, err)
		}
	}
}

func manyMetrics(n int) string {
	var defs, members []string
	for i := range n {
		defs = append(defs, fmt.Sprintf(`{"Name":"M%d"}`, i))
		members = append(members, fmt.Sprintf(`"M%d":1`, i))
	}
	return `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"V","Dimensions":[[]],"Metrics":[` + strings.Join(defs, ",") + `]}]},` + strings.Join(members, ",") + `}`
}

// A writer that fails is reported with how far it got; nothing panics.
func TestEMFWriterFailure(t *testing.T) {
	e := NewEMF(failingWriter{}, "")
	n, err := e.Publish(context.Background(), CheckerImpaired(tick, 1))
	if err == nil || n != 0 || e.Namespace() != DefaultNamespace {
		t.Fatalf("n %d, err %v", n, err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("simulated: stdout closed") }

func BenchmarkEMFCheck(b *testing.B) {
	integ := integration(true)
	rec := health.Record{Integration: integ.Name, State: health.Active, Score: 100, LastTick: tick,
		Availability: health.Availability{LatencyMs: []float64{12}}}
	results := []probe.Result{
		{Component: "orchestrator", Healthy: true, Latency: 12 * time.Millisecond, Metrics: map[string]float64{"MemoryMB": 210, "AsyncTasks": 4}},
		{Component: "websocket-manager", Healthy: true, Latency: 8 * time.Millisecond, CertDaysLeft: ptr(60.0)},
	}
	ds := ForCheck(integ, rec, results, tick)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode("Vigil", ds); err != nil {
			b.Fatal(err)
		}
	}
}

// The document refuses a body metric named like a dimension it would be
// published with, so ForCheck can never make a datum Encode refuses.
func TestConfigRefusesDimensionNamedMetrics(t *testing.T) {
	for _, dim := range []string{DimIntegration, DimComponent} {
		_, err := config.Parse([]byte("integrations:\n  - name: b\n    components:\n      - {name: c, type: http, target: 'https://e.com/', http: {metrics: [{name: " + dim + ", json_path: m}]}}\n"))
		if err == nil {
			t.Errorf("a body metric named %s was accepted", dim)
		}
	}
}
