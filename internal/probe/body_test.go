package probe

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vigil-monitor/vigil/internal/config"
)

const statusJSON = `{"status":"up","load":0.42,"nothing":null,"token":"s3cr3t-token-value",
"data":{"count":0,"items":[1,2,3],"name":"primary-db"},
"tags":["primary","eu-west-1"],
"checks":[{"name":"db","ok":true,"critical":true},{"name":"cache","ok":false,"critical":false},{"name":"queue","ok":true,"critical":true}]}`

// loaded returns c with its settings validated and parsed, as a loaded
// document has them.
func loaded(t *testing.T, c config.Component) config.Component {
	t.Helper()
	if err := c.ValidateAndSetDefaults(); err != nil {
		t.Fatalf("component does not validate: %v", err)
	}
	return c
}

// TestProbeHTTPComparisons runs each comparison an assertion may make
// against a loopback server, passing and failing, and checks the reason.
func TestProbeHTTPComparisons(t *testing.T) {
	srv := newServer(t, serveJSON(statusJSON))
	cmp := func(path, op string, value any) config.Assertion {
		return config.Assertion{JSONPath: path, Op: op, Value: value}
	}
	length := func(path, op string, value any) config.Assertion {
		a := cmp(path, op, value)
		a.Length = true
		return a
	}
	tests := []struct {
		name      string
		assertion config.Assertion
		reason    string // "" for healthy
	}{
		{"greater than fails", cmp("data.count", ">", 0), `assertion: json_path "$.data.count" is 0, want > 0`},
		{"at least passes", cmp("data.count", ">=", 0), ""},
		{"less than a fraction passes", cmp("$.load", "<", 0.5), ""},
		{"at most fails", cmp("$.load", "<=", 0.4), `json_path "$.load" is 0.42, want <= 0.4`},
		{"ordering a string", cmp("status", ">", 1), `json_path "$.status" is a string, want > 1`},
		{"not equal passes", cmp("status", "!=", "down"), ""},
		{"not equal fails", cmp("status", "!=", "up"), `json_path "$.status" is "up", want != "up"`},
		{"equal as numbers", cmp("data.count", "==", 0.0), ""},
		{"equal as text", cmp("data.count", "==", "0"), ""},
		{"boolean", cmp("checks.0.ok", "==", true), ""},
		{"null as text", cmp("nothing", "==", "null"), ""},
		{"equal an object", cmp("data", "==", "x"), `json_path "$.data" is an object, want "x"`},
		{"every value must pass", cmp("$.checks[*].ok", "==", true), `json_path "$.checks[*].ok" is false, want true (1 of 3 values)`},
		{"filter selects the ones that matter", cmp("$.checks[?@.critical == true].ok", "==", true), ""},
		{"filter selects nothing", config.Assertion{JSONPath: "$.checks[?@.name == 'mq']"}, `json_path "$.checks[?@.name == 'mq']" not found`},
		{"filter selects something", config.Assertion{JSONPath: "$.checks[?@.name == 'queue']"}, ""},
		{"substring", cmp("data.name", "contains", "primary"), ""},
		{"substring missing", cmp("data.name", "contains", "replica"), `json_path "$.data.name" is "primary-db", want contains "replica"`},
		{"array element", cmp("tags", "contains", "eu-west-1"), ""},
		{"array element missing", cmp("tags", "contains", "us-east-1"), `json_path "$.tags" is an array, want contains "us-east-1"`},
		{"array element as number", cmp("data.items", "contains", 2), ""},
		{"contains on a number", cmp("data.count", "contains", 1), `json_path "$.data.count" is a number, want contains 1`},
		{"length of an array", length("data.items", ">", 0), ""},
		{"length of an array fails", length("data.items", "==", 2), `json_path "$.data.items" has length 3, want 2`},
		{"length of a string", length("data.name", "==", 10), ""},
		{"length of an object", length("data", ">=", 3), ""},
		{"length of a number", length("data.count", ">", 0), `json_path "$.data.count" is a number, want length > 0`},
		{"a string value is quoted", cmp("token", "==", "other"), `json_path "$.token" is "s3cr3t-token-value", want "other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := loaded(t, httpComponent(srv.URL, config.HTTPProbe{Assertions: []config.Assertion{tt.assertion}}))
			r := ProbeHTTP(t.Context(), c, nil)
			checkResult(t, r, tt.reason == "", tt.reason)
			if tt.reason != "" && r.Phase != PhaseAssertion {
				t.Errorf("Phase = %q, want %q", r.Phase, PhaseAssertion)
			}
		})
	}
}

// TestProbeHTTPComparisonsWithSecrets checks that no failed comparison
// quotes the target's value when the request carried secret headers: it
// says how the value failed, never what it was.
func TestProbeHTTPComparisonsWithSecrets(t *testing.T) {
	const secret = "s3cr3t-token-value"
	srv := newServer(t, serveJSON(statusJSON))
	tests := []struct {
		name      string
		assertion config.Assertion
		reason    string
	}{
		{"==", config.Assertion{JSONPath: "token", Equals: ptr("other")}, `json_path "$.token" differs from "other" (value not shown`},
		{"!=", config.Assertion{JSONPath: "status", Op: "!=", Value: "up"}, `json_path "$.status" equals "up" (value not shown`},
		{"contains", config.Assertion{JSONPath: "token", Op: "contains", Value: "public"}, `json_path "$.token" does not contain "public" (value not shown`},
		{"ordering", config.Assertion{JSONPath: "load", Op: ">", Value: 1}, `json_path "$.load" is not > 1 (value not shown`},
		{"length", config.Assertion{JSONPath: "token", Op: "<", Value: 8, Length: true}, `json_path "$.token" length is not < 8 (value not shown`},
		{"kind is said", config.Assertion{JSONPath: "token", Op: ">", Value: 1}, `json_path "$.token" is a string, want > 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := loaded(t, httpComponent(srv.URL, config.HTTPProbe{Assertions: []config.Assertion{tt.assertion}}))
			r := ProbeHTTP(t.Context(), c, http.Header{"X-Api-Key": {secret}})
			checkResult(t, r, false, tt.reason)
			if strings.Contains(r.Error, secret) || strings.Contains(r.Error, "0.42") {
				t.Errorf("Error %q quotes the target's value", r.Error)
			}
		})
	}
}

// TestProbeHTTPMetricPaths checks metrics read through JSONPath: one
// number, or a reason.
func TestProbeHTTPMetricPaths(t *testing.T) {
	srv := newServer(t, serveJSON(statusJSON))
	tests := []struct {
		name   string
		path   string
		value  float64
		reason string
	}{
		{"dotted", "data.count", 0, ""},
		{"JSONPath", "$.load", 0.42, ""},
		{"filter selecting one", "$.data.items[?@ > 2]", 3, ""},
		{"several values", "$.data.items[*]", 0, `metric M: json_path "$.data.items[*]" selects 3 values, want one`},
		{"not a number", "$.status", 0, `metric M: json_path "$.status" is a string, not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := loaded(t, httpComponent(srv.URL, config.HTTPProbe{Metrics: []config.ExtractedMetric{{Name: "M", JSONPath: tt.path}}}))
			r := ProbeHTTP(t.Context(), c, nil)
			checkResult(t, r, tt.reason == "", tt.reason)
			if got, ok := r.Metrics["M"]; tt.reason == "" && (!ok || got != tt.value) {
				t.Errorf("Metrics = %v, want M = %v", r.Metrics, tt.value)
			}
		})
	}
}
