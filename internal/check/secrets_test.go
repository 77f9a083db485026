package check

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/secret"
	"github.com/vigil-monitor/vigil/internal/status"
)

// planted is what every planted secret contains, and what must be found
// nowhere: not as a whole, not escaped, not as a token without its scheme.
const planted = "PLANTED"

// Three shapes of secret (issue 10): plain; with quotes and backslashes,
// which %q and JSON escape; and a Bearer credential whose target echoes
// only the token. Each target answers with what it was sent, in the places
// a careless service would: the field an assertion compares, the body, an
// error page.
var plantedSecrets = []struct {
	name, header, value, echo string
}{
	{"plain", "X-Api-Key", "sk-PLANTED-9f8e7d", "whole"},
	{"quotes and backslashes", "X-Api-Key", `p"a\ss"w\\rd-PLANTED`, "whole"},
	{"bearer, token echoed", "Authorization", "Bearer sk-PLANTED-tok", "token"},
}

// echoTarget answers 200 with the secret (or its token) in a JSON field the
// component asserts on, in a header and in the body text.
func echoTarget(t *testing.T, header, echo string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get(header)
		if echo == "token" {
			_, v, _ = strings.Cut(v, " ")
		}
		w.Header().Set("X-Echo", v)
		b, _ := json.Marshal(map[string]string{"status": v, "detail": "you sent " + v})
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A planted secret, in each of three shapes, reaches its target and is
// found nowhere Vigil writes: the DynamoDB item, the function's result,
// its logs, the SNS messages, the metrics, the Status answers.
func TestPlantedSecretsNeverLeave(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "planted", nil)
	f.useClock()
	var raw rawInbox
	raw.subscribe(t, f)
	logs := &emulator.SyncBuffer{}
	f.h.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	var yaml strings.Builder
	yaml.WriteString("integrations:\n  - name: planted\n    component_metrics: true\n    components:\n")
	for i, s := range plantedSecrets {
		param := fmt.Sprintf("/vigil/planted-%d", i)
		if _, err := f.clients.SSM.PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String(param), Value: aws.String(s.value), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
		}); err != nil {
			t.Fatal(err)
		}
		target := echoTarget(t, s.header, s.echo)
		fmt.Fprintf(&yaml, `      - name: api-%d
        type: http
        target: %q
        timeout: 2s
        allow_loopback: true
        http:
          secret_headers: {%s: {ssm: %s}}
          assertions: [{json_path: status, equals: healthy}, {json_path: detail, equals: fine}, {contains: all-good}]
`, i, target.URL, s.header, param)
	}
	doc, err := config.Parse([]byte(yaml.String()))
	if err != nil {
		t.Fatal(err)
	}
	f.h.Config = func(context.Context) (*config.Document, error) { return doc, nil }
	f.h.Secrets = secret.New(f.clients.SSM, f.clients.SecretsManager, time.Minute)

	var results []byte
	for n := 1; n <= 3; n++ { // INITIALIZING, then FAILED: transitions, notifications, recovery due
		r := f.at(n)
		b, _ := json.Marshal(r)
		results = append(results, b...)
		for _, c := range r.Integrations[0].Components {
			if c.Healthy || c.Error == "" {
				t.Fatalf("tick %d: %s judged healthy on an echoed secret: %+v", n, c.Name, c)
			}
		}
	}

	item, err := f.clients.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(f.tableName), ConsistentRead: aws.Bool(true),
		// The state item's key, as internal/store documents its layout.
		Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "STATE"},
			"sk": &ddbtypes.AttributeValueMemberS{Value: "planted"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	itemJSON, _ := json.Marshal(item.Item)

	metricsJSON := f.emf.String() // every EMF document, as CloudWatch Logs receives it

	sh := &status.Handler{Store: f.store, Config: f.h.Config, Now: f.clock.Now, Logger: f.h.Logger}
	var answers []byte
	for _, format := range []string{"json", "markdown"} {
		var req events.LambdaFunctionURLRequest
		req.RequestContext.HTTP.Method = http.MethodGet
		req.QueryStringParameters = map[string]string{"format": format}
		resp, err := sh.Handle(ctx, req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("status %s: %d %v %s", format, resp.StatusCode, err, resp.Body)
		}
		answers = append(answers, resp.Body...)
	}

	if len(raw.messages()) == 0 || !strings.Contains(string(itemJSON), "api-0") || !strings.Contains(string(answers), "api-2") {
		t.Fatalf("nothing to search: %d messages, item %d bytes, answers %d bytes", len(raw.messages()), len(itemJSON), len(answers))
	}
	for where, text := range map[string]string{
		"DynamoDB item":   string(itemJSON),
		"function result": string(results),
		"logs":            logs.String(),
		"SNS messages":    strings.Join(raw.messages(), "\n"),
		"metrics":         metricsJSON,
		"Status answers":  string(answers),
	} {
		if i := strings.Index(text, planted); i >= 0 {
			t.Errorf("%s holds a planted secret: …%s…", where, text[max(0, i-60):min(len(text), i+40)])
		}
	}
}

// rawInbox keeps every SNS message as delivered: subject, body and
// attributes, not only the decoded event.
type rawInbox struct {
	mu   sync.Mutex
	msgs []string
}

func (in *rawInbox) subscribe(t *testing.T, f *fixture) {
	t.Helper()
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		in.mu.Lock()
		in.msgs = append(in.msgs, string(b))
		in.mu.Unlock()
	}))
	t.Cleanup(sub.Close)
	ctx := context.Background()
	topic, err := f.clients.SNS.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(fmt.Sprintf("planted-%d", time.Now().UnixNano()))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.clients.SNS.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(sub.URL)}); err != nil {
		t.Fatal(err)
	}
	f.h.Notifier = notify.NewPublisher(f.clients.SNS, aws.ToString(topic.TopicArn))
}

func (in *rawInbox) messages() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.msgs...)
}
