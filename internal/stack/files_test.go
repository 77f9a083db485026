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

// TestSamconfigRegions checks the multi-region environments describe one
// home and its probe-only regions that agree: each deploys a stack the
// others find (HomeStackName and HomeRegion name the home's stack and
// region), with the same list of regions, which holds every environment's
// region.
func TestSamconfigRegions(t *testing.T) {
	t.Parallel()
	var cfg map[string]any
	if _, err := toml.DecodeFile(filepath.Join(repoRoot(t), "samconfig.toml"), &cfg); err != nil {
		t.Fatal(err)
	}
	params := transform(t).Template["Parameters"].(map[string]any)
	type env struct {
		stack, region string
		overrides     map[string]string
	}
	read := func(name string) env {
		t.Helper()
		e, ok := cfg[name].(map[string]any)
		if !ok {
			t.Fatalf("environment %s missing", name)
		}
		global := e["global"].(map[string]any)["parameters"].(map[string]any)
		deploy := e["deploy"].(map[string]any)["parameters"].(map[string]any)
		if deploy["capabilities"] != "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND" || deploy["resolve_s3"] != true {
			t.Errorf("%s: deploy %v", name, deploy)
		}
		out := env{stack: global["stack_name"].(string), region: global["region"].(string), overrides: map[string]string{}}
		for _, o := range deploy["parameter_overrides"].([]any) {
			k, v, _ := strings.Cut(o.(string), "=")
			if _, known := params[k]; !known {
				t.Errorf("%s: override of unknown parameter %s", name, k)
			}
			out.overrides[k] = v
		}
		return out
	}
	home := read("multiregion-home")
	if home.region != "us-east-1" || home.stack != "vigil" || home.overrides["HomeRegion"] != home.region || home.overrides["HomeStackName"] != "" {
		t.Errorf("multiregion-home: %+v, want stack vigil in us-east-1, its own HomeRegion and no HomeStackName", home)
	}
	regions := strings.Split(home.overrides["Regions"], ",")
	if !slices.Equal(regions, []string{"us-east-1", "eu-west-1", "ap-southeast-2"}) {
		t.Errorf("multiregion-home Regions %v", regions)
	}
	for _, r := range regions[1:] {
		name := "multiregion-" + r
		p := read(name)
		if p.region != r {
			t.Errorf("%s deploys to %s", name, p.region)
		}
		for k, want := range map[string]string{"HomeRegion": home.region, "HomeStackName": home.stack, "Regions": home.overrides["Regions"]} {
			if p.overrides[k] != want {
				t.Errorf("%s: %s = %q, want %q (the home's)", name, k, p.overrides[k], want)
			}
		}
		// What the home reads from its own region, each probe-only region
		// reads from its own: the same document, the same namespace.
		for _, k := range []string{"ConfigParameterName", "MetricNamespace", "ScheduleExpression"} {
			if p.overrides[k] != home.overrides[k] {
				t.Errorf("%s: %s = %q, the home's %q", name, k, p.overrides[k], home.overrides[k])
			}
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
