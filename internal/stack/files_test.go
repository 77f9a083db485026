package stack

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/aws/aws-lambda-go/events"
)

// TestSamconfig checks samconfig.toml has both environments with what
// `sam deploy` needs (CAPABILITY_IAM for the functions' roles,
// CAPABILITY_AUTO_EXPAND for the SAM transform), and overrides only
// parameters the template has.
func TestSamconfig(t *testing.T) {
	t.Parallel()
	var cfg map[string]any
	if _, err := toml.DecodeFile(filepath.Join(repoRoot(t), "samconfig.toml"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["version"] != 0.1 {
		t.Errorf("version %v, want 0.1", cfg["version"])
	}
	tr := transform(t)
	params := tr.Template["Parameters"].(map[string]any)
	for env, want := range map[string]struct {
		stack     string
		confirm   bool
		retention string
	}{"default": {"vigil-dev", false, "14"}, "production": {"vigil", true, "90"}} {
		e, ok := cfg[env].(map[string]any)
		if !ok {
			t.Fatalf("environment %s missing", env)
		}
		global := e["global"].(map[string]any)["parameters"].(map[string]any)
		deploy := e["deploy"].(map[string]any)["parameters"].(map[string]any)
		if global["stack_name"] != want.stack || global["region"] == nil {
			t.Errorf("%s: global %v", env, global)
		}
		if deploy["capabilities"] != "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND" || deploy["resolve_s3"] != true || deploy["confirm_changeset"] != want.confirm {
			t.Errorf("%s: deploy %v", env, deploy)
		}
		overrides := map[string]string{}
		for _, o := range deploy["parameter_overrides"].([]any) {
			k, v, _ := strings.Cut(o.(string), "=")
			if _, known := params[k]; !known {
				t.Errorf("%s: override of unknown parameter %s", env, k)
			}
			overrides[k] = v
		}
		if overrides["LogRetentionDays"] != want.retention {
			t.Errorf("%s: LogRetentionDays %q, want %s", env, overrides["LogRetentionDays"], want.retention)
		}
	}
}

// TestEvents decodes each sample event for `sam local invoke` into the type
// its handler receives: strictly, except function URL requests, which carry
// fields (routeKey) that events.LambdaFunctionURLRequest does not model.
func TestEvents(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot(t), "events")
	decode := func(t *testing.T, name string, v any, strict bool) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		if strict {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var sched struct {
		ScheduledTime string   `json:"scheduled_time"`
		Integrations  []string `json:"integrations"`
	}
	decode(t, "healthcheck-scheduler.json", &sched, true)
	if sched.ScheduledTime != "2026-11-27T12:00:00Z" || !slices.Equal(sched.Integrations, []string{"agent-bridge"}) {
		t.Errorf("scheduler event %+v", sched)
	}
	var eb events.EventBridgeEvent
	decode(t, "healthcheck-eventbridge.json", &eb, true)
	if eb.DetailType != "Scheduled Event" || eb.Time.IsZero() {
		t.Errorf("EventBridge event %+v", eb)
	}
	var attempt struct {
		Phase       string `json:"phase"`
		IncidentID  string `json:"incident_id"`
		Integration string `json:"integration"`
		Attempt     int    `json:"attempt"`
		MaxAttempts int    `json:"max_attempts"`
		Delays      []int  `json:"delays"`
	}
	decode(t, "recovery-attempt.json", &attempt, true)
	if attempt.Phase != "attempt" || attempt.IncidentID != "agent-bridge-1795000000" || attempt.Attempt != 1 || attempt.MaxAttempts != 3 {
		t.Errorf("recovery event %+v", attempt)
	}
	for name, want := range map[string]map[string]string{
		"status-all.json":       nil,
		"status-markdown.json":  {"integration": "agent-bridge", "format": "markdown"},
		"status-bad-param.json": {"format": "xml"},
	} {
		var req events.LambdaFunctionURLRequest
		decode(t, name, &req, false)
		if req.Version != "2.0" || req.RequestContext.HTTP.Method != "GET" || req.RequestContext.Authorizer == nil || req.RequestContext.Authorizer.IAM == nil {
			t.Errorf("%s: not an IAM-authorised function URL request: %+v", name, req)
		}
		if len(req.QueryStringParameters) != len(want) {
			t.Errorf("%s: query %v, want %v", name, req.QueryStringParameters, want)
		}
		for k, v := range want {
			if req.QueryStringParameters[k] != v {
				t.Errorf("%s: query %v, want %v", name, req.QueryStringParameters, want)
			}
		}
	}
}
