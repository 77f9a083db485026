package bench

import (
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
)

const alarmsYAML = `
Parameters:
  Warn:
    Type: String
    Default: "true"
  Key:
    Type: String
    Default: ""
  Targets:
    Type: CommaDelimitedList
    Default: ""
Conditions:
  Warnings: !Equals [!Ref Warn, "true"]
  CreateKey: !Equals [!Ref Key, ""]
  WarnAndKey: !And [!Condition Warnings, !Condition CreateKey]
  HasTargets: !Not [!Equals [!Join ["", !Ref Targets], ""]]
  LongForm:
    Fn::Equals: [{Ref: Warn}, "true"]
Resources:
  Plain:
    Type: AWS::CloudWatch::Alarm
    Properties:
      MetricName: Heartbeat
  MathTwo:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Metrics:
        - Id: a
          MetricStat: {Metric: {MetricName: Errors}}
        - Id: b
          MetricStat: {Metric: {MetricName: Throttles}}
        - Id: sum
          Expression: a + b
  WarnOnly:
    Type: AWS::CloudWatch::Alarm
    Condition: Warnings
    Properties:
      MetricName: CheckDuration
  Both:
    Type: AWS::CloudWatch::Alarm
    Condition: WarnAndKey
    Properties:
      Metrics:
        - Id: h
          MetricStat: {Metric: {MetricName: Healthy}}
        - Id: e
          Expression: 100 * h
  Long:
    Type: AWS::CloudWatch::Alarm
    Condition: LongForm
    Properties:
      MetricName: State
  Targeted:
    Type: AWS::CloudWatch::Alarm
    Condition: HasTargets
    Properties:
      MetricName: RecoveryFailed
  TopicKey:
    Type: AWS::KMS::Key
    Condition: CreateKey
  Child:
    Type: AWS::Serverless::Application
    Properties:
      Location: child.yaml
      Parameters:
        Warn: !Ref Warn
        Fixed: "true"
        Topic: !Ref TopicKey
  Table:
    Type: AWS::DynamoDB::Table
`

func TestTemplateCount(t *testing.T) {
	tmpl, err := ParseTemplate([]byte(alarmsYAML))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		params map[string]string
		want   Billable
	}{
		{"defaults", nil, Billable{Alarms: 5, AlarmMetrics: 6, KMSKeys: 1}},
		{"no warnings", map[string]string{"Warn": "false"}, Billable{Alarms: 2, AlarmMetrics: 3, KMSKeys: 1}},
		{"shared key", map[string]string{"Key": "arn:aws:kms:us-east-1:1:key/x"}, Billable{Alarms: 4, AlarmMetrics: 5}},
		{"targets", map[string]string{"Targets": "arn:a,arn:b"}, Billable{Alarms: 6, AlarmMetrics: 7, KMSKeys: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tmpl.Count(tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Nested) != 1 {
				t.Fatalf("nested = %+v, want one", got.Nested)
			}
			warn := "true"
			if v, ok := tt.params["Warn"]; ok {
				warn = v
			}
			// Topic is a resource reference: left out, not guessed.
			wantParams := map[string]string{"Warn": warn, "Fixed": "true"}
			if n := got.Nested[0]; n.Location != "child.yaml" || !reflect.DeepEqual(n.Params, wantParams) {
				t.Errorf("nested = %+v, want child.yaml with %v", n, wantParams)
			}
			got.Nested = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Count = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTemplateCountRefusesUnknownCondition(t *testing.T) {
	tmpl, err := ParseTemplate([]byte("Resources:\n  A:\n    Type: AWS::CloudWatch::Alarm\n    Condition: Missing\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.Count(nil); err == nil {
		t.Fatal("Count accepted a resource with an undefined condition")
	}
}

func TestMonthlyCost(t *testing.T) {
	u := Usage{
		Checks: ChecksPerMonth, MetricSeries: 6, AlarmMetrics: 20, KMSKeys: 1,
		DurationMs: 299.2, MemoryMB: 256,
		DynamoDBReads: 1, DynamoDBWrites: 1, ItemBytes: 3000, LogBytes: 1500,
	}
	items := MonthlyCost(u)
	got := map[string]float64{}
	for _, it := range items {
		got[it.Item] = it.USD
	}
	want := map[string]float64{
		"Custom metrics":         1.80,
		"Alarms":                 2.00,
		"KMS key (alarm topic)":  1.00,
		"Lambda requests":        0.00864,
		"Lambda compute (arm64)": 43200 * 0.3 * 0.25 * 0.0000133334, // 300 ms billed
		"EventBridge Scheduler":  0.0432,
		"DynamoDB reads":         43200 * 1 * 0.125 / 1e6, // 3,000 B: 1 RRU
		"DynamoDB writes":        43200 * 3 * 0.625 / 1e6, // 3,000 B: 3 WRU
		"CloudWatch Logs":        43200 * 1500 / 1e9 * 0.5,
	}
	if len(got) != len(want) {
		t.Fatalf("line items %v, want %v", got, want)
	}
	for k, w := range want {
		if math.Abs(got[k]-w) > 1e-9 {
			t.Errorf("%s = %.6f, want %.6f", k, got[k], w)
		}
	}
	// 1.80 series + 2.00 alarms + 1.00 key + 0.22 requests, compute,
	// schedule, DynamoDB and logs.
	if total := Total(items); math.Abs(total-5.02) > 0.02 {
		t.Errorf("Total = %.4f, want ≈ 5.02", total)
	}
	// One more integration pays its 5 series, 8 alarm metrics, DynamoDB and
	// logs; the stack its 1 series, 12 alarm metrics, the key, the
	// invocations and the schedule.
	marginal, fixed := MarginalAndFixed(u, Split{IntegrationSeries: 5, IntegrationAlarmMetrics: 8, StackSeries: 1, StackAlarmMetrics: 12, KMSKeys: 1})
	wantMarginal := 5*0.30 + 8*0.10 + got["DynamoDB reads"] + got["DynamoDB writes"] + got["CloudWatch Logs"]
	wantFixed := 0.30 + 12*0.10 + 1.00 + got["Lambda requests"] + got["Lambda compute (arm64)"] + got["EventBridge Scheduler"]
	if math.Abs(marginal-wantMarginal) > 1e-9 || math.Abs(fixed-wantFixed) > 1e-9 {
		t.Errorf("marginal %.4f, fixed %.4f; want %.4f, %.4f", marginal, fixed, wantMarginal, wantFixed)
	}
}

func TestInitDurations(t *testing.T) {
	log := "START RequestId: a Version: $LATEST\n" +
		"REPORT RequestId: a\tInit Duration: 12.34 ms\tDuration: 250.10 ms\tBilled Duration: 251 ms\tMemory Size: 256 MB\tMax Memory Used: 30 MB\t\n" +
		"REPORT RequestId: b\tDuration: 200.00 ms\tBilled Duration: 200 ms\tMemory Size: 256 MB\tMax Memory Used: 30 MB\t\n" +
		"REPORT RequestId: c\tInit Duration: 7 ms\tDuration: 1 ms\n"
	if got, want := InitDurations(log), []float64{12.34, 7}; !reflect.DeepEqual(got, want) {
		t.Errorf("InitDurations = %v, want %v", got, want)
	}
	if got := InitDurations("REPORT RequestId: b\tDuration: 200.00 ms\n"); got != nil {
		t.Errorf("InitDurations of a warm report = %v, want none", got)
	}
}

func TestShapes(t *testing.T) {
	if got := Many("m", 10).Groups; !reflect.DeepEqual(got, []int{4, 4, 2}) {
		t.Errorf("Many(10) = %v, want [4 4 2]", got)
	}
	if got := len(Many("m", 1000).Groups); got != 250 {
		t.Errorf("Many(1000) has %d integrations, want 250", got)
	}
	var slow, mid int
	for i := range 1000 {
		switch Delay(i, 1000) {
		case 200 * time.Millisecond:
			slow++
		case 100 * time.Millisecond:
			mid++
		}
	}
	if slow != 1 || mid != 20 {
		t.Errorf("1,000 delays: %d of 200 ms and %d of 100 ms, want 1 and 20", slow, mid)
	}
	doc, err := config.Parse([]byte(ConfigYAML("http://127.0.0.1:1", Single("one", 3), Many("four", 5))))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range doc.Integrations {
		names = append(names, in.Name)
	}
	if want := []string{"one", "four-000", "four-001"}; !reflect.DeepEqual(names, want) {
		t.Errorf("integrations %v, want %v", names, want)
	}
}

func TestDelayHandler(t *testing.T) {
	srv := httptest.NewServer(DelayHandler())
	defer srv.Close()
	if _, err := Floor(t.Context(), []string{srv.URL + "/delay/0", srv.URL + "/delay/1"}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/delay/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad delay: status %d, want 400", resp.StatusCode)
	}
	if _, err := Floor(t.Context(), []string{srv.URL + "/delay/x"}); err == nil {
		t.Error("Floor accepted a 400")
	}
}
