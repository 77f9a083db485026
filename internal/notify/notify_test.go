package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/emulator"
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

// failingSNS fails every call; Publish must not reach it when disabled.
type failingSNS struct{ calls int }

func (f *failingSNS) Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.calls++
	return nil, errors.New("unreachable")
}

func TestDisabledPublisherIsNoOp(t *testing.T) {
	client := &failingSNS{}
	p := NewPublisher(client, "")
	if p.Enabled() {
		t.Error("publisher without topic reports enabled")
	}
	if err := p.Publish(context.Background(), Event{Kind: KindStateChange}); err != nil || client.calls != 0 {
		t.Errorf("Publish = %v after %d calls; want nil, 0", err, client.calls)
	}
}

func TestPublishErrors(t *testing.T) {
	client := &failingSNS{}
	p := NewPublisher(client, "arn:aws:sns:us-east-1:123456789012:vigil")
	if err := p.Publish(context.Background(), Event{Kind: "bogus", Integration: "b"}); !errors.Is(err, ErrUnknownKind) || client.calls != 0 {
		t.Errorf("unknown kind: err %v after %d calls; want ErrUnknownKind, no call", err, client.calls)
	}
	err := p.Publish(context.Background(), Event{Kind: KindRecoveryStarted, Integration: "b"})
	if err == nil || !strings.Contains(err.Error(), "recovery_started for b") {
		t.Errorf("err = %v, want one naming kind and integration", err)
	}
}

// sqsCall makes one SQS JSON-protocol call to moto. The SDK's SQS module is
// not a dependency of Vigil, and this test is its only user, so the request
// is signed and sent by hand.
func sqsCall(t *testing.T, m *emulator.Moto, op string, in, out any) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Endpoint+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AmazonSQS."+op)
	cfg := m.AWSConfig()
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "sqs", cfg.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sqs %s: status %d: %s", op, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("sqs %s: decode %s: %v", op, b, err)
		}
	}
}

func TestPublishThroughMotoToSQS(t *testing.T) {
	ctx := context.Background()
	m, err := emulator.StartMoto(ctx, emulator.MotoOptions{})
	if err != nil {
		t.Fatalf("start moto: %v", err)
	}
	defer m.Stop()
	client := awsenv.New(m.AWSConfig()).SNS

	topic, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("vigil-alerts")})
	if err != nil {
		t.Fatal(err)
	}
	var queue struct{ QueueUrl string }
	sqsCall(t, m, "CreateQueue", map[string]any{"QueueName": "vigil-inbox"}, &queue)
	queueARN := fmt.Sprintf("arn:aws:sqs:%s:123456789012:vigil-inbox", emulator.Region)
	if _, err := client.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN),
	}); err != nil {
		t.Fatal(err)
	}

	ev := Event{
		Kind: KindStateChange, Integration: "agent-bridge", From: health.Active, To: health.Failed,
		Cause: "orchestrator: status 503", IncidentID: "agent-bridge-20251127T1403", At: at,
	}
	if err := NewPublisher(client, aws.ToString(topic.TopicArn)).Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}

	var got struct {
		Messages []struct{ Body string }
	}
	sqsCall(t, m, "ReceiveMessage", map[string]any{"QueueUrl": queue.QueueUrl, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 2}, &got)
	if len(got.Messages) != 1 {
		t.Fatalf("queue holds %d messages, want 1", len(got.Messages))
	}
	var envelope struct {
		Subject           string
		Message           string
		MessageAttributes map[string]struct{ Type, Value string }
	}
	if err := json.Unmarshal([]byte(got.Messages[0].Body), &envelope); err != nil {
		t.Fatal(err)
	}
	if envelope.Subject != "[Vigil] agent-bridge ACTIVE → FAILED" {
		t.Errorf("subject %q", envelope.Subject)
	}
	for k, want := range map[string]string{AttrKind: KindStateChange, AttrIntegration: "agent-bridge", AttrState: "FAILED"} {
		if a := envelope.MessageAttributes[k]; a.Type != "String" || a.Value != want {
			t.Errorf("attribute %s = %+v, want String %q", k, a, want)
		}
	}
	var msg struct {
		Event
		Source  string `json:"source"`
		Summary string `json:"summary"`
	}
	if err := json.Unmarshal([]byte(envelope.Message), &msg); err != nil {
		t.Fatalf("message %q: %v", envelope.Message, err)
	}
	if msg.Event != ev || msg.Source != "vigil" || msg.Summary != "agent-bridge changed from ACTIVE to FAILED: orchestrator: status 503" {
		t.Errorf("message %+v, want event %+v with source and summary", msg, ev)
	}
}
