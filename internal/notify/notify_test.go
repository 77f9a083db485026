package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/emulator/emutest"
	"github.com/vigil-monitor/vigil/internal/health"
)

var at = time.Date(2025, 11, 27, 14, 3, 0, 0, time.UTC)

func TestSubjectAndSummary(t *testing.T) {
	tests := []struct {
		ev      Event
		subject string
		summary string
	}{
		{
			Event{Kind: KindStateChange, Integration: "agent-bridge", From: health.Active, To: health.Failed, Cause: "orchestrator: status 503"},
			"[Vigil] agent-bridge ACTIVE → FAILED",
			"agent-bridge changed from ACTIVE to FAILED: orchestrator: status 503",
		},
		{
			Event{Kind: KindRecoveryStarted, Integration: "agent-bridge", Attempt: 1, Cause: "3 consecutive failures"},
			"[Vigil] agent-bridge recovery started (attempt 1)",
			"agent-bridge recovery started (attempt 1): 3 consecutive failures",
		},
		{
			Event{Kind: KindRecoverySucceeded, Integration: "agent-bridge", Attempt: 2},
			"[Vigil] agent-bridge recovered (attempt 2)",
			"agent-bridge recovered (attempt 2)",
		},
		{
			Event{Kind: KindRecoveryFailed, Integration: "agent-bridge", Attempt: 2, Cause: "webhook status 500"},
			"[Vigil] agent-bridge recovery failed (attempt 2)",
			"agent-bridge recovery failed (attempt 2): webhook status 500",
		},
		{
			Event{Kind: KindRecoveryExhausted, Integration: "agent-bridge", Attempt: 3},
			"[Vigil] agent-bridge recovery exhausted",
			"agent-bridge recovery exhausted after 3 attempts",
		},
	}
	for _, tt := range tests {
		t.Run(tt.ev.Kind, func(t *testing.T) {
			if got := Subject(tt.ev); got != tt.subject {
				t.Errorf("Subject = %q, want %q", got, tt.subject)
			}
			if got, err := Summary(tt.ev); err != nil || got != tt.summary {
				t.Errorf("Summary = %q, %v; want %q", got, err, tt.summary)
			}
		})
	}
}

func TestSubjectIsClipped(t *testing.T) {
	ev := Event{Kind: KindStateChange, Integration: strings.Repeat("ü", 150) + "\nx", From: health.Active, To: health.Degraded}
	s := Subject(ev)
	if n := utf8.RuneCountInString(s); n != MaxSubjectLen {
		t.Errorf("subject has %d characters, want %d", n, MaxSubjectLen)
	}
	if !strings.HasSuffix(s, "…") || strings.ContainsAny(s, "\n\r") {
		t.Errorf("subject %q: want an ellipsis and no line break", s)
	}
	if s := Subject(Event{Kind: KindStateChange, Integration: "a\nb", To: health.Active}); s != "[Vigil] a b ? → ACTIVE" {
		t.Errorf("subject %q: control characters must become spaces", s)
	}
}

// TestSeverity holds every kind to its severity rule (see Severity): the
// person paged for something sees it end on the same topic.
func TestSeverity(t *testing.T) {
	const w, c = SeverityWarning, SeverityCritical
	for _, tt := range []struct {
		kind     string
		from, to health.State
		want     string
	}{
		// State changes: anything touching FAILED is critical, both ways.
		{KindStateChange, health.Active, health.Failed, c},
		{KindStateChange, health.Degraded, health.Failed, c},
		{KindStateChange, health.Initializing, health.Failed, c},
		{KindStateChange, health.Failed, health.Active, c},
		{KindStateChange, health.Failed, health.Degraded, c},
		{KindStateChange, health.Active, health.Degraded, w},
		{KindStateChange, health.Degraded, health.Active, w},
		{KindStateChange, health.Uninitialized, health.Initializing, w},
		{KindStateChange, health.Initializing, health.Active, w},
		{KindStateChange, health.Initializing, health.Degraded, w},
		// Automation still at work.
		{KindRecoveryStarted, health.Failed, health.Failed, w},
		{KindRecoveryStarted, health.Degraded, health.Degraded, w},
		{KindRecoveryFailed, health.Failed, health.Failed, w},
		{KindRecoveryFailed, health.Degraded, health.Failed, w},
		// A recovery that resolves a FAILED page goes where the page went.
		{KindRecoverySucceeded, health.Failed, health.Active, c},
		{KindRecoverySucceeded, health.Degraded, health.Active, w},
		// Automation gave up: a person must act.
		{KindRecoveryExhausted, health.Failed, health.Failed, c},
		{KindRecoveryExhausted, health.Degraded, health.Degraded, c},
		{KindRecoveryEnded, health.Failed, health.Failed, c},
		{KindRecoveryEnded, health.Degraded, health.Degraded, c},
		{KindRecoveryEnded, health.Active, health.Active, w},
		// The checker is blind, and then sees again: both on one topic.
		{KindCheckerImpaired, "", "", c},
		{KindCheckerRecovered, "", "", c},
		// The other regions still decide: nobody needs waking.
		{KindRegionImpaired, "", "", w},
		{KindRegionRecovered, "", "", w},
		// A kind without a rule pages rather than hides.
		{"kind_added_later", health.Active, health.Active, c},
	} {
		ev := Event{Kind: tt.kind, Integration: "agent-bridge", From: tt.from, To: tt.to}
		if got := Severity(ev); got != tt.want {
			t.Errorf("Severity(%s %s → %s) = %s, want %s", tt.kind, tt.from, tt.to, got, tt.want)
		}
	}
}

// One moto per test binary, started by the first test that needs it.
var moto = &emutest.Shared{}

func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }

// inbox is an SNS topic on moto with an SQS queue subscribed to it, so what
// the topic received can be read back.
type inbox struct {
	topicARN, queueURL string
}

// newInbox creates topic name and its queue on moto.
func newInbox(ctx context.Context, t *testing.T, c *awsenv.Clients, name string) inbox {
	t.Helper()
	topic, err := c.SNS.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	q, err := sqs.NewFromConfig(c.Config).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-inbox")})
	if err != nil {
		t.Fatal(err)
	}
	queueARN := fmt.Sprintf("arn:aws:sqs:%s:123456789012:%s-inbox", emulator.Region, name)
	if _, err := c.SNS.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN),
	}); err != nil {
		t.Fatal(err)
	}
	return inbox{topicARN: aws.ToString(topic.TopicArn), queueURL: aws.ToString(q.QueueUrl)}
}

// envelope is an SNS notification as an SQS subscriber receives it.
type envelope struct {
	TopicArn          string
	Subject           string
	Message           string
	MessageAttributes map[string]struct{ Type, Value string }
}

// body is the JSON message Publish sends.
type body struct {
	Event
	Severity string `json:"severity"`
	Source   string `json:"source"`
	Summary  string `json:"summary"`
}

// drain returns, in order, every notification the inbox's queue holds and
// deletes them. moto delivers to SQS within Publish, so nothing is late.
func (in inbox) drain(ctx context.Context, t *testing.T, c *awsenv.Clients) []envelope {
	t.Helper()
	q := sqs.NewFromConfig(c.Config)
	var out []envelope
	for {
		got, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(in.queueURL), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Messages) == 0 {
			return out
		}
		for _, m := range got.Messages {
			var e envelope
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
				t.Fatalf("notification %s: %v", aws.ToString(m.Body), err)
			}
			out = append(out, e)
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(in.queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// kinds lists the "kind → state" of each notification, to compare inboxes.
func kinds(t *testing.T, es []envelope) []string {
	t.Helper()
	var out []string
	for _, e := range es {
		var b body
		if err := json.Unmarshal([]byte(e.Message), &b); err != nil {
			t.Fatalf("message %q: %v", e.Message, err)
		}
		out = append(out, fmt.Sprintf("%s %s→%s", b.Kind, b.From, b.To))
	}
	return out
}

// Each event reaches exactly the topic of its severity, with the severity
// as an attribute and in the body, through real SNS → SQS subscriptions.
func TestPublishRoutesBySeverity(t *testing.T) {
	ctx := context.Background()
	c := awsenv.New(moto.Get(t).AWSConfig())
	warning := newInbox(ctx, t, c, "vigil-routes-warning")
	critical := newInbox(ctx, t, c, "vigil-routes-critical")
	p := NewRoutedPublisher(c.SNS, Topics{Warning: warning.topicARN, Critical: critical.topicARN})

	failed := Event{
		Kind: KindStateChange, Integration: "agent-bridge", From: health.Active, To: health.Failed,
		Cause: "orchestrator: status 503", IncidentID: "agent-bridge-20251127T1403", At: at,
	}
	for _, ev := range []Event{
		{Kind: KindStateChange, Integration: "agent-bridge", From: health.Active, To: health.Degraded, At: at},
		failed,
		{Kind: KindRecoveryStarted, Integration: "agent-bridge", From: health.Failed, To: health.Failed, Attempt: 1, At: at},
		{Kind: KindRecoveryFailed, Integration: "agent-bridge", From: health.Failed, To: health.Failed, Attempt: 1, At: at},
		{Kind: KindRecoverySucceeded, Integration: "agent-bridge", From: health.Failed, To: health.Active, Attempt: 2, At: at},
		{Kind: KindStateChange, Integration: "agent-bridge", From: health.Degraded, To: health.Active, At: at},
		{Kind: KindRecoveryExhausted, Integration: "agent-bridge", From: health.Degraded, To: health.Degraded, Attempt: 3, At: at},
		{Kind: KindCheckerImpaired, Cause: "DNS: lookup timed out (integrations: a, b)", At: at},
	} {
		if err := p.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}

	gotWarning, gotCritical := warning.drain(ctx, t, c), critical.drain(ctx, t, c)
	for _, tc := range []struct {
		name     string
		got      []envelope
		topic    string
		severity string
		want     []string
	}{
		{"warning", gotWarning, warning.topicARN, SeverityWarning, []string{
			"state_change ACTIVE→DEGRADED", "recovery_started FAILED→FAILED", "recovery_failed FAILED→FAILED", "state_change DEGRADED→ACTIVE",
		}},
		{"critical", gotCritical, critical.topicARN, SeverityCritical, []string{
			"state_change ACTIVE→FAILED", "recovery_succeeded FAILED→ACTIVE", "recovery_exhausted DEGRADED→DEGRADED", "checker_impaired →",
		}},
	} {
		if got := kinds(t, tc.got); strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
			t.Errorf("%s topic received %q, want %q", tc.name, got, tc.want)
		}
		for _, e := range tc.got {
			var b body
			_ = json.Unmarshal([]byte(e.Message), &b)
			if e.TopicArn != tc.topic || b.Severity != tc.severity {
				t.Errorf("%s on topic %s with body severity %q, want %s and %s", b.Kind, e.TopicArn, b.Severity, tc.topic, tc.severity)
			}
			if a := e.MessageAttributes[AttrSeverity]; a.Type != "String" || a.Value != tc.severity {
				t.Errorf("%s: severity attribute %+v, want String %q", b.Kind, a, tc.severity)
			}
		}
	}

	// One notification in full: subject, every attribute, and the body.
	if len(gotCritical) == 0 {
		t.Fatal("nothing reached the critical topic")
	}
	e := gotCritical[0]
	if e.Subject != "[Vigil] agent-bridge ACTIVE → FAILED" {
		t.Errorf("subject %q", e.Subject)
	}
	for k, want := range map[string]string{AttrKind: KindStateChange, AttrSeverity: SeverityCritical, AttrIntegration: "agent-bridge", AttrState: "FAILED"} {
		if a := e.MessageAttributes[k]; a.Type != "String" || a.Value != want {
			t.Errorf("attribute %s = %+v, want String %q", k, a, want)
		}
	}
	var b body
	if err := json.Unmarshal([]byte(e.Message), &b); err != nil {
		t.Fatalf("message %q: %v", e.Message, err)
	}
	if b.Event != failed || b.Severity != SeverityCritical || b.Source != "vigil" || b.Summary != "agent-bridge changed from ACTIVE to FAILED: orchestrator: status 503" {
		t.Errorf("message %+v, want event %+v with severity, source and summary", b, failed)
	}
	// The checker's events name no integration: SNS refuses empty
	// attribute values, so the attribute is left out.
	if _, set := gotCritical[len(gotCritical)-1].MessageAttributes[AttrIntegration]; set {
		t.Errorf("checker_impaired carries an integration attribute")
	}
}

// An empty topic ARN disables its severity only: no request for those
// events, the other severity still delivered. One ARN for both (the
// single-topic NewPublisher) receives every event.
func TestPublishDisabledSeverities(t *testing.T) {
	ctx := context.Background()
	c := awsenv.New(moto.Get(t).AWSConfig())
	critical := newInbox(ctx, t, c, "vigil-only-critical")
	both := newInbox(ctx, t, c, "vigil-both")
	degraded := Event{Kind: KindStateChange, Integration: "agent-bridge", From: health.Active, To: health.Degraded, At: at}
	failed := Event{Kind: KindStateChange, Integration: "agent-bridge", From: health.Degraded, To: health.Failed, At: at}

	for _, tc := range []struct {
		name          string
		p             *Publisher
		enabled       bool
		wantPublishes int
	}{
		{"no topics", NewRoutedPublisher(c.SNS, Topics{}), false, 0},
		{"single-topic publisher without a topic", NewPublisher(c.SNS, ""), false, 0},
		{"critical only", NewRoutedPublisher(c.SNS, Topics{Critical: critical.topicARN}), true, 1},
		{"one topic for both", NewPublisher(c.SNS, both.topicARN), true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.p.Enabled() != tc.enabled {
				t.Errorf("Enabled = %v, want %v", tc.p.Enabled(), tc.enabled)
			}
			before := c.Requests.Snapshot()
			for _, ev := range []Event{degraded, failed} {
				if err := tc.p.Publish(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
			if got := c.Requests.Since(before)["SNS.Publish"]; got != tc.wantPublishes {
				t.Errorf("%d SNS.Publish requests, want %d", got, tc.wantPublishes)
			}
		})
	}
	if got := kinds(t, critical.drain(ctx, t, c)); strings.Join(got, ", ") != "state_change DEGRADED→FAILED" {
		t.Errorf("critical-only topic received %q, want only the change to FAILED", got)
	}
	if got := kinds(t, both.drain(ctx, t, c)); strings.Join(got, ", ") != "state_change ACTIVE→DEGRADED, state_change DEGRADED→FAILED" {
		t.Errorf("single topic received %q, want both severities", got)
	}
}

func TestPublishErrors(t *testing.T) {
	ctx := context.Background()
	c := awsenv.New(moto.Get(t).AWSConfig())
	missing := fmt.Sprintf("arn:aws:sns:%s:123456789012:vigil-no-such-topic", emulator.Region)
	p := NewRoutedPublisher(c.SNS, Topics{Warning: missing, Critical: missing})

	// An unknown kind is refused before any request, enabled or not.
	before := c.Requests.Snapshot()
	for _, p := range []*Publisher{p, NewPublisher(c.SNS, "")} {
		if err := p.Publish(ctx, Event{Kind: "bogus", Integration: "b"}); !errors.Is(err, ErrUnknownKind) {
			t.Errorf("unknown kind: err %v, want ErrUnknownKind", err)
		}
	}
	if got := c.Requests.Since(before); len(got) != 0 {
		t.Errorf("unknown kind sent %v", got)
	}
	// SNS refusing (the topic does not exist) is an error naming the kind,
	// the integration and the severity's topic.
	err := p.Publish(ctx, Event{Kind: KindRecoveryStarted, Integration: "b"})
	if err == nil || !strings.Contains(err.Error(), "recovery_started for b to the warning topic") {
		t.Errorf("err = %v, want one naming kind, integration and topic", err)
	}
}
