package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/emulator/emutest"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/report"
	"github.com/vigil-monitor/vigil/internal/store"
)

// moto is the package's one emulator; every test makes its own table in it.
var moto = &emutest.Shared{}

func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }

// plantedSecret is in the config's probe headers; no answer may contain it,
// nor the names of the secrets the config refers to.
const plantedSecret = "sk-PLANTED-SECRET"

var secretRefs = []string{plantedSecret, "/vigil/bridge/api-key", "vigil/ops-webhook"}

const testConfig = `
integrations:
  - name: agent-bridge
    components:
      - name: orchestrator
        type: http
        target: https://bridge.example.com/health/orchestrator
        http:
          headers:
            Authorization: Bearer sk-PLANTED-SECRET
          secret_headers:
            X-Api-Key: {ssm: /vigil/bridge/api-key}
      - name: websocket
        type: websocket
        target: wss://bridge.example.com/ws
    recovery:
      webhook:
        url: https://ops.example.com/recover
        secret_headers:
          Authorization: {secretsmanager: vigil/ops-webhook}
  - name: payments
    components:
      - name: api
        type: tcp
        target: payments.example.com:443
`

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testDoc(t testing.TB) *config.Document {
	t.Helper()
	doc, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// counting passes every call to the emulator and counts reads, to hold the
// handler to one request per answer.
type counting struct {
	store.ItemAPI
	gets, queries atomic.Int64
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	return c.ItemAPI.GetItem(ctx, in, o...)
}

func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.queries.Add(1)
	return c.ItemAPI.Query(ctx, in, o...)
}

var unsafeTableChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// newTable creates a fresh table named after the test.
func newTable(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	client := dynamodb.NewFromConfig(moto.Get(t).AWSConfig())
	name := "vigil-" + unsafeTableChars.ReplaceAllString(t.Name(), "-")
	if len(name) > 200 {
		name = name[:200]
	}
	if err := store.CreateTable(context.Background(), client, name); err != nil {
		t.Fatal(err)
	}
	return client, name
}

// put writes r through the store, as the HealthCheck function would.
func put(t testing.TB, s *store.Store, r health.Record) {
	t.Helper()
	_, err := s.Update(context.Background(), r.Integration, func(health.Record) (health.Record, bool, error) { return r, true, nil })
	if err != nil {
		t.Fatal(err)
	}
}

// bridgeRecord is agent-bridge FAILED on its orchestrator; the stored error
// is the component's error only.
func bridgeRecord() health.Record {
	up := now.Add(-2 * time.Hour)
	return health.Record{
		Integration: "agent-bridge", State: health.Failed, Score: 50, LastTick: now, LastHealthCheck: now,
		Components: []health.ComponentStatus{
			{Name: "orchestrator", Healthy: false, Critical: true, LatencyMs: 3, Error: "GET https://bridge.example.com/health/orchestrator: status 503, want 200"},
			{Name: "websocket", Healthy: true, Critical: true, LatencyMs: 140, Score: 100, CertDaysLeft: ptr(40.0)},
		},
		ConsecutiveFailures: 2, HealthChecksPerformed: 121, TotalInitializations: 1, SuccessfulInitializations: 1,
		ErrorMessage: "orchestrator: GET https://bridge.example.com/health/orchestrator: status 503, want 200",
		History: []health.Transition{
			{From: health.Uninitialized, To: health.Initializing, At: up, Cause: "first health check"},
			{From: health.Initializing, To: health.Active, At: up, Cause: "initialized: all components healthy (1 consecutive successes)"},
			{From: health.Active, To: health.Failed, At: now.Add(-time.Minute), Cause: `critical component "orchestrator" unhealthy: status 503`},
		},
		Availability: health.Availability{
			Minutes:   []health.Bucket{{Start: now.Add(-time.Minute).Unix(), Checks: 1}, {Start: now.Unix(), Checks: 1}},
			LatencyMs: []float64{180, 240},
		},
	}
}

func ptr[T any](v T) *T { return &v }

type fixture struct {
	h      *Handler
	client *dynamodb.Client
	table  string
	count  *counting
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	client, table := newTable(t)
	count := &counting{ItemAPI: client}
	s := store.New(count, table)
	put(t, s, bridgeRecord())
	put(t, s, health.Record{Integration: "retired", State: health.Active, Score: 100, HealthChecksPerformed: 9, LastHealthCheck: now.Add(-time.Hour)})
	count.gets.Store(0)
	count.queries.Store(0)
	doc := testDoc(t)
	return &fixture{
		h: &Handler{
			Store:  s,
			Config: func(context.Context) (*config.Document, error) { return doc, nil },
			Now:    func() time.Time { return now },
			Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		},
		client: client, table: table, count: count,
	}
}

func get(query map[string]string) events.LambdaFunctionURLRequest {
	var req events.LambdaFunctionURLRequest
	req.Version = "2.0"
	req.RawPath = "/"
	req.RequestContext.HTTP.Method = "GET"
	req.QueryStringParameters = query
	// A caller's credentials never reach the answer.
	req.Headers = map[string]string{"authorization": "Bearer " + plantedSecret}
	return req
}

func (f *fixture) do(t *testing.T, req events.LambdaFunctionURLRequest) events.LambdaFunctionURLResponse {
	t.Helper()
	resp, err := f.h.Handle(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secretRefs {
		if strings.Contains(resp.Body, s) || strings.Contains(fmt.Sprint(resp.Headers), s) {
			t.Errorf("answer contains %q:\n%s", s, resp.Body)
		}
	}
	return resp
}

func decode(t *testing.T, resp events.LambdaFunctionURLResponse) report.Report {
	t.Helper()
	if ct := resp.Headers["Content-Type"]; ct != ContentJSON {
		t.Fatalf("Content-Type = %q, want %q", ct, ContentJSON)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(resp.Body), &rep); err != nil {
		t.Fatalf("body is not a report: %v\n%s", err, resp.Body)
	}
	return rep
}

func TestAllJSON(t *testing.T) {
	f := newFixture(t)
	resp := f.do(t, get(nil))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	rep := decode(t, resp)
	var names []string
	for _, in := range rep.Integrations {
		names = append(names, fmt.Sprintf("%s=%s", in.Name, in.State))
	}
	if got, want := strings.Join(names, " "), "agent-bridge=FAILED payments=UNINITIALIZED retired=ACTIVE"; got != want {
		t.Errorf("integrations %q, want %q", got, want)
	}
	if !rep.Integrations[1].NeverChecked || rep.Integrations[2].Configured {
		t.Errorf("payments must be never checked and retired unconfigured: %+v", rep.Integrations)
	}
	if rep.StatusQueryMs == nil || *rep.StatusQueryMs <= 0 {
		t.Errorf("status_query_ms = %v, want the measured duration", rep.StatusQueryMs)
	}
	if !rep.GeneratedAt.Equal(now) {
		t.Errorf("generated_at = %v, want %v", rep.GeneratedAt, now)
	}
	if g, q := f.count.gets.Load(), f.count.queries.Load(); g != 0 || q != 1 {
		t.Errorf("DynamoDB requests: %d GetItem, %d Query; want one Query", g, q)
	}
}

func TestOne(t *testing.T) {
	f := newFixture(t)
	t.Run("markdown", func(t *testing.T) {
		f.count.gets.Store(0)
		resp := f.do(t, get(map[string]string{"integration": "agent-bridge", "format": "markdown"}))
		if resp.StatusCode != 200 || resp.Headers["Content-Type"] != ContentMarkdown {
			t.Fatalf("status %d, Content-Type %q: %s", resp.StatusCode, resp.Headers["Content-Type"], resp.Body)
		}
		for _, want := range []string{
			"# Integration health report", "## agent-bridge", "**Overall health: FAILED**",
			"| orchestrator | unhealthy | 0.0 | just now | GET https://bridge.example.com/health/orchestrator: status 503, want 200 |",
			"| Status query | < 500 ms |", "this request, measured by the Status function",
			"FAILED: failed 2 checks in a row (warning at 2, critical at 3)",
		} {
			if !strings.Contains(resp.Body, want) {
				t.Errorf("report lacks %q:\n%s", want, resp.Body)
			}
		}
		if strings.Contains(resp.Body, "## payments") {
			t.Errorf("one-integration report lists others:\n%s", resp.Body)
		}
		if g, q := f.count.gets.Load(), f.count.queries.Load(); g != 1 || q != 0 {
			t.Errorf("DynamoDB requests: %d GetItem, %d Query; want one GetItem", g, q)
		}
	})
	t.Run("json", func(t *testing.T) {
		rep := decode(t, f.do(t, get(map[string]string{"integration": "agent-bridge"})))
		if len(rep.Integrations) != 1 || rep.Integrations[0].Name != "agent-bridge" || rep.Integrations[0].Counters.HealthChecksPerformed != 121 {
			t.Errorf("integrations = %+v", rep.Integrations)
		}
	})
	t.Run("never checked", func(t *testing.T) {
		rep := decode(t, f.do(t, get(map[string]string{"integration": "payments", "format": "json"})))
		if len(rep.Integrations) != 1 || !rep.Integrations[0].NeverChecked || rep.Integrations[0].State != health.Uninitialized {
			t.Errorf("integrations = %+v", rep.Integrations)
		}
	})
	t.Run("stored, not configured", func(t *testing.T) {
		rep := decode(t, f.do(t, get(map[string]string{"integration": "retired"})))
		if len(rep.Integrations) != 1 || rep.Integrations[0].Configured {
			t.Errorf("integrations = %+v", rep.Integrations)
		}
	})
}

func TestRefused(t *testing.T) {
	f := newFixture(t)
	post := get(nil)
	post.RequestContext.HTTP.Method = "POST"
	tests := []struct {
		name string
		req  events.LambdaFunctionURLRequest
		code int
		body string
	}{
		{"unknown integration", get(map[string]string{"integration": "x"}), 404, `{"error":"unknown integration \"x\""}`},
		{"bad format", get(map[string]string{"format": "xml"}), 400, `{"error":"format must be json or markdown, not \"xml\""}`},
		{"unknown parameter", get(map[string]string{"format": "json", "verbose": "1"}), 400, `{"error":"unknown query parameter \"verbose\"; use integration and format"}`},
		{"empty integration", get(map[string]string{"integration": ""}), 400, `{"error":"integration must name an integration"}`},
		{"100 KB integration name, echoed bounded", get(map[string]string{"integration": strings.Repeat("x", 100_000)}), 404, `{"error":"unknown integration \"` + strings.Repeat("x", 46) + `…[+99954 bytes]\""}`},
		{"method", post, 405, `{"error":"method POST not allowed; use GET"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.do(t, tt.req)
			if resp.StatusCode != tt.code || strings.TrimSpace(resp.Body) != tt.body {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, resp.Body, tt.code, tt.body)
			}
			if resp.Headers["Content-Type"] != ContentJSON {
				t.Errorf("Content-Type = %q", resp.Headers["Content-Type"])
			}
			if tt.code == 405 && resp.Headers["Allow"] != "GET" {
				t.Errorf("Allow = %q, want GET", resp.Headers["Allow"])
			}
		})
	}
}

// putMalformed writes a state item the store cannot read: its state is
// not one of the five.
func (f *fixture) putMalformed(t *testing.T, name string) {
	t.Helper()
	_, err := f.client.PutItem(t.Context(), &dynamodb.PutItemInput{
		TableName: aws.String(f.table),
		Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "STATE"}, "sk": &types.AttributeValueMemberS{Value: name},
			"kind": &types.AttributeValueMemberS{Value: "state"}, "schema": &types.AttributeValueMemberN{Value: "1"},
			"integration": &types.AttributeValueMemberS{Value: name}, "version": &types.AttributeValueMemberN{Value: "3"},
			"state": &types.AttributeValueMemberS{Value: "EXPLODED"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// One malformed item beside two good ones (agent-bridge and retired) on
// moto: the fleet's answer is 200 with every readable integration and a
// note naming the bad item and why, in JSON and in Markdown.
func TestMalformedRecordBesideGoodOnes(t *testing.T) {
	f := newFixture(t)
	f.putMalformed(t, "broken")

	resp := f.do(t, get(nil))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	rep := decode(t, resp)
	var names []string
	for _, in := range rep.Integrations {
		names = append(names, fmt.Sprintf("%s=%s", in.Name, in.State))
	}
	if got, want := strings.Join(names, " "), "agent-bridge=FAILED payments=UNINITIALIZED retired=ACTIVE"; got != want {
		t.Errorf("integrations %q, want %q", got, want)
	}
	if len(rep.Unreadable) != 1 || rep.Unreadable[0].Integration != "broken" || !strings.Contains(rep.Unreadable[0].Error, `state "EXPLODED" is unknown`) {
		t.Errorf("unreadable = %+v, want broken with its unknown state", rep.Unreadable)
	}
	if q := f.count.queries.Load(); q != 1 {
		t.Errorf("%d queries, want 1", q)
	}

	md := f.do(t, get(map[string]string{"format": "markdown"}))
	if md.StatusCode != 200 || md.Headers["Content-Type"] != ContentMarkdown {
		t.Fatalf("markdown: status %d, Content-Type %q: %s", md.StatusCode, md.Headers["Content-Type"], md.Body)
	}
	for _, want := range []string{
		"· 3 integrations · default SLO 99.9 % · **1 stored record could not be read**",
		"## Unreadable records",
		`| broken | invalid health record "broken": state "EXPLODED" is unknown |`,
		"## agent-bridge", "## payments", "## retired",
	} {
		if !strings.Contains(md.Body, want) {
			t.Errorf("report lacks %q:\n%s", want, md.Body)
		}
	}

	// Asked for by name, the unreadable record is the whole answer: 500.
	one := f.do(t, get(map[string]string{"integration": "broken"}))
	var body errorBody
	if one.StatusCode != 500 || json.Unmarshal([]byte(one.Body), &body) != nil || !strings.Contains(body.Error, `"broken"`) || !strings.Contains(body.Error, "EXPLODED") {
		t.Errorf("integration=broken: got %d %s; want a 500 JSON error naming the integration and the problem", one.StatusCode, one.Body)
	}
}

// A configured integration whose record is unreadable is named as such,
// never shown as never checked (which would be false).
func TestMalformedConfiguredRecord(t *testing.T) {
	f := newFixture(t)
	f.putMalformed(t, "payments")
	rep := decode(t, f.do(t, get(nil)))
	for _, in := range rep.Integrations {
		if in.Name == "payments" {
			t.Errorf("payments listed as %s (never checked %v); want it only in the unreadable note", in.State, in.NeverChecked)
		}
	}
	if len(rep.Integrations) != 2 || len(rep.Unreadable) != 1 || rep.Unreadable[0].Integration != "payments" {
		t.Errorf("integrations %+v, unreadable %+v", rep.Integrations, rep.Unreadable)
	}
}

// When no record at all can be read there is nothing true to show: 500,
// naming the items, bounded.
func TestNothingReadable(t *testing.T) {
	client, table := newTable(t)
	f := &fixture{client: client, table: table}
	doc := testDoc(t)
	f.h = &Handler{
		Store:  store.New(client, table),
		Config: func(context.Context) (*config.Document, error) { return doc, nil },
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	for i := range 40 {
		f.putMalformed(t, fmt.Sprintf("broken-%02d-%s", i, strings.Repeat("x", 40)))
	}
	for _, q := range []map[string]string{nil, {"format": "markdown"}} {
		resp := f.do(t, get(q))
		var body errorBody
		if resp.StatusCode != 500 || json.Unmarshal([]byte(resp.Body), &body) != nil || !strings.Contains(body.Error, "broken-00") || !strings.Contains(body.Error, "EXPLODED") {
			t.Errorf("query %v: got %d %s; want a 500 JSON error naming the items", q, resp.StatusCode, resp.Body)
		}
		if len(body.Error) > 2200 {
			t.Errorf("query %v: error of %d bytes, want it bounded", q, len(body.Error))
		}
	}
}

// TestNoSecrets plants a secret in the config's headers and secret
// references, and a caller's Authorization header; f.do fails on any of
// them in any answer.
func TestNoSecrets(t *testing.T) {
	f := newFixture(t)
	for _, q := range []map[string]string{
		nil, {"format": "markdown"},
		{"integration": "agent-bridge"}, {"integration": "agent-bridge", "format": "markdown"},
	} {
		if resp := f.do(t, get(q)); resp.StatusCode != 200 {
			t.Errorf("query %v: status %d", q, resp.StatusCode)
		}
	}
	// The config does hold the secret, so the test is not vacuous.
	if b, _ := json.Marshal(testDoc(t)); !strings.Contains(string(b), plantedSecret) {
		t.Fatal("planted secret missing from the test config")
	}
}

func TestConfigError(t *testing.T) {
	f := newFixture(t)
	f.h.Config = func(context.Context) (*config.Document, error) { return nil, fmt.Errorf("ssm: access denied") }
	resp := f.do(t, get(nil))
	if resp.StatusCode != 500 || strings.Contains(resp.Body, "access denied") {
		t.Errorf("got %d %s; want 500 pointing at the logs", resp.StatusCode, resp.Body)
	}
}
