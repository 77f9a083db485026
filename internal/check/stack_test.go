package check

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/alerting"
	"github.com/vigil-monitor/vigil/internal/netguard"
)

// cfnEndpoint stands in for CloudFormation's pre-signed S3 response URL: a
// real TLS server on loopback that keeps each answer.
type cfnEndpoint struct {
	mu      sync.Mutex
	answers []map[string]any
}

func (e *cfnEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var m map[string]any
	if r.Method != http.MethodPut || r.Header.Get("Content-Type") != "" || json.Unmarshal(body, &m) != nil {
		http.Error(w, "want a PUT of JSON without a content type", http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	e.answers = append(e.answers, m)
	e.mu.Unlock()
}

func (e *cfnEndpoint) last() map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.answers) == 0 {
		return nil
	}
	return e.answers[len(e.answers)-1]
}

// stackEvent decodes a custom resource request as the Lambda runtime does.
func stackEvent(t *testing.T, requestType, responseURL string) Event {
	t.Helper()
	raw := `{"RequestType": "` + requestType + `", "ResponseURL": "` + responseURL + `",
		"StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/vigil/1", "RequestId": "req-1",
		"LogicalResourceId": "AlertingCleanup", "PhysicalResourceId": "vigil-alerting",
		"ResourceType": "Custom::VigilAlerting", "ResourceProperties": {"StackName": "vigil"}}`
	var ev Event
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// Deleting the stack removes the alarms and dashboard Vigil made and
// answers CloudFormation; the applied plan is forgotten, so a stack that
// lives on converges again at its next check.
func TestStackDeleteRemovesAlerting(t *testing.T) {
	f := newFixture(t, "cleanup", nil)
	stack := "cln" + strconv.FormatInt(time.Now().UnixNano(), 36)
	f.h.Alerting = alerting.NewConverger(f.clients.CloudWatch, alerting.Options{Stack: stack})
	endpoint := &cfnEndpoint{}
	srv := httptest.NewTLSServer(endpoint)
	t.Cleanup(srv.Close)
	f.h.Responder = HTTPSResponder{Policy: netguard.Policy{AllowLoopback: true}, InsecureSkipVerify: true}
	ctx := context.Background()

	r := f.tick(1)
	if r.Alerting == nil || !r.Alerting.Recorded || len(alarmsOf(t, f.clients.CloudWatch, stack+"/")) != r.Alerting.Alarms {
		t.Fatalf("first check did not converge: %+v", r.Alerting)
	}

	// Create changes nothing and succeeds.
	if _, err := f.h.Handle(ctx, stackEvent(t, "Create", srv.URL+"/answer?X-Amz-Signature=abc")); err != nil {
		t.Fatal(err)
	}
	if a := endpoint.last(); a["Status"] != "SUCCESS" || a["RequestId"] != "req-1" || a["PhysicalResourceId"] != "vigil-alerting" {
		t.Fatalf("create answer %v", a)
	}
	if n := len(alarmsOf(t, f.clients.CloudWatch, stack+"/")); n != r.Alerting.Alarms {
		t.Fatalf("create removed alarms: %d left", n)
	}

	res, err := f.h.Handle(ctx, stackEvent(t, "Delete", srv.URL+"/answer"))
	if err != nil {
		t.Fatal(err)
	}
	if a := endpoint.last(); a["Status"] != "SUCCESS" || a["LogicalResourceId"] != "AlertingCleanup" {
		t.Fatalf("delete answer %v", a)
	}
	if left := alarmsOf(t, f.clients.CloudWatch, stack+"/"); len(left) != 0 || len(res.Alerting.Changes) != r.Alerting.Alarms+1 {
		t.Fatalf("after delete: %d alarms left, %d changes", len(left), len(res.Alerting.Changes))
	}
	if applied, err := f.store.ReadApplied(ctx); err != nil || applied.Hash != "" {
		t.Fatalf("applied plan still recorded: %+v, %v", applied, err)
	}
	if r := f.tick(2); r.Alerting == nil || !r.Alerting.Recorded || len(alarmsOf(t, f.clients.CloudWatch, stack+"/")) != r.Alerting.Alarms {
		t.Fatalf("the next check did not converge again: %+v", r.Alerting)
	}
}

func TestStackEventRefusals(t *testing.T) {
	f := newFixture(t, "cfnbad", nil)
	f.h.Responder = HTTPSResponder{}
	for _, c := range []struct {
		ev   Event
		want string
	}{
		{stackEvent(t, "Explode", "https://example.com/x"), `custom resource request type "Explode"`},
		// The answer goes to https only, and never to loopback unless allowed.
		{stackEvent(t, "Create", "http://example.com/x"), "is not an https URL"},
		{stackEvent(t, "Create", "https://127.0.0.1:1/x"), "refused destination"},
	} {
		_, err := f.h.Handle(context.Background(), c.ev)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: err = %v, want %q", c.ev.RequestType, c.ev.ResponseURL, err, c.want)
		}
	}
	var bad error = ErrBadEvent
	if _, err := f.h.Handle(context.Background(), stackEvent(t, "Explode", "https://example.com/x")); !errors.Is(err, bad) {
		t.Errorf("err = %v, want ErrBadEvent", err)
	}
}
