// Package config loads and validates Vigil's integration document (SPEC §2).
//
// A document is decoded strictly and validated as a whole: one bad field refuses
// the document, with an error naming the integration, component and field.
package config

import (
	"regexp"
	"strconv"
	"time"

	"github.com/theory/jsonpath"
	"github.com/theory/jsonpath/spec"
)

// Probe types a component may use.
const (
	TypeHTTP      = "http"
	TypeWebSocket = "websocket"
	TypeTCP       = "tcp"
)

// Document is the whole configuration: the integrations Vigil watches.
type Document struct {
	// Namespace overrides the CloudWatch namespace (default "Vigil").
	Namespace    string        `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	Integrations []Integration `yaml:"integrations" json:"integrations"`
	// Controls are targets known to be up, probed with every check: when
	// more than half of them fail, the fault is the checker's (its resolver
	// or network), and the check judges no integration. Optional.
	Controls []Component `yaml:"controls,omitempty" json:"controls,omitempty"`
	// Quorum decides, when several regions probe, how many of those that
	// reported a tick must see a component failing for it to count as
	// failing: "majority" (default) or a number. One region: that region.
	Quorum Quorum `yaml:"quorum,omitempty" json:"quorum"`
}

// Integration is one monitored system made of components.
type Integration struct {
	Name        string              `yaml:"name" json:"name"`
	Components  []Component         `yaml:"components" json:"components"`
	Thresholds  Thresholds          `yaml:"thresholds,omitempty" json:"thresholds"`
	Recovery    *Recovery           `yaml:"recovery,omitempty" json:"recovery,omitempty"`
	Maintenance []MaintenanceWindow `yaml:"maintenance,omitempty" json:"maintenance,omitempty"`
	Flapping    Flapping            `yaml:"flapping,omitempty" json:"flapping"`
	// ComponentMetrics publishes per-component series (Integration,Component).
	// Off by default: each series is a custom metric billed monthly (SPEC §9).
	ComponentMetrics bool `yaml:"component_metrics,omitempty" json:"component_metrics,omitempty"`
	// SLO is the availability objective in percent (default 99.9): the
	// share of checks that find the integration ACTIVE. Its error budget
	// drives the burn-rate alarms and the report.
	SLO float64 `yaml:"slo,omitempty" json:"slo"`
}

// Thresholds decide states, alarms and recovery. Defaults come from the
// reference report.
type Thresholds struct {
	FailureWarning   int      `yaml:"failure_warning,omitempty" json:"failure_warning"`     // default 2
	FailureCritical  int      `yaml:"failure_critical,omitempty" json:"failure_critical"`   // default 3; also makes recovery due
	LatencyWarning   Duration `yaml:"latency_warning,omitempty" json:"latency_warning"`     // default 1s
	LatencyCritical  Duration `yaml:"latency_critical,omitempty" json:"latency_critical"`   // default 5s
	SuccessThreshold int      `yaml:"success_threshold,omitempty" json:"success_threshold"` // default 1
	CertWarningDays  int      `yaml:"cert_warning_days,omitempty" json:"cert_warning_days"` // default 14
	CertCriticalDays int      `yaml:"cert_critical_days,omitempty" json:"cert_critical_days"`
}

// Flapping marks an integration whose state changed more than MaxTransitions
// times within Window.
type Flapping struct {
	MaxTransitions int      `yaml:"max_transitions,omitempty" json:"max_transitions"` // default 6
	Window         Duration `yaml:"window,omitempty" json:"window"`                   // default 15m
}

// MaintenanceWindow holds notifications and recovery while checks keep running.
// Either a one-off window (Start and End) or a recurring one (Days, At,
// Duration) in TimeZone.
type MaintenanceWindow struct {
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// One-off, RFC 3339.
	Start *time.Time `yaml:"start,omitempty" json:"start,omitempty"`
	End   *time.Time `yaml:"end,omitempty" json:"end,omitempty"`
	// Recurring: weekdays ("mon".."sun"; empty means every day), local start
	// time "HH:MM" and length.
	Days     []string `yaml:"days,omitempty" json:"days,omitempty"`
	At       string   `yaml:"at,omitempty" json:"at,omitempty"`
	Duration Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	TimeZone string   `yaml:"time_zone,omitempty" json:"time_zone,omitempty"` // IANA name, default UTC

	// recurring is what ValidateAndSetDefaults derived from a valid
	// recurring window, so Active (run at every check) neither loads a time
	// zone nor parses At; nil until then, and for a window that failed.
	recurring *recurrence
}

// recurrence is a validated recurring window, resolved once at load.
type recurrence struct {
	loc          *time.Location
	hour, minute int
}

// Component is one probed endpoint of an integration.
type Component struct {
	Name     string   `yaml:"name" json:"name"`
	Type     string   `yaml:"type" json:"type"`                             // http | websocket | tcp
	Target   string   `yaml:"target" json:"target"`                         // URL for http/websocket, host:port for tcp
	Timeout  Duration `yaml:"timeout,omitempty" json:"timeout"`             // default 5s
	Critical *bool    `yaml:"critical,omitempty" json:"critical,omitempty"` // default true
	// Weight is the component's share of the score: default 1; 0 (observe
	// without scoring) only when written explicitly. The document's value
	// is decoded into writtenWeight and copied here by
	// ValidateAndSetDefaults.
	Weight float64 `yaml:"-" json:"-"`

	// Destinations refused by default (SPEC §10) that this component may reach.
	AllowLoopback  bool `yaml:"allow_loopback,omitempty" json:"allow_loopback,omitempty"`
	AllowLinkLocal bool `yaml:"allow_link_local,omitempty" json:"allow_link_local,omitempty"`
	// InsecureSkipVerify turns off TLS verification for this component only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`

	HTTP      *HTTPProbe      `yaml:"http,omitempty" json:"http,omitempty"`
	WebSocket *WebSocketProbe `yaml:"websocket,omitempty" json:"websocket,omitempty"`

	// writtenWeight receives the document's weight key in the one strict
	// decode of the document: its pointer tells an explicit 0 from no
	// weight, which a float64 cannot. Inlined (and promoted in JSON), so
	// the key stays "weight", an unknown key is still refused by the
	// decoder, and a compiled document keeps "no weight" as no weight.
	writtenWeight `yaml:",inline"`
}

// writtenWeight is a component's weight as the document wrote it; nil when
// it wrote none.
type writtenWeight struct {
	Written *float64 `yaml:"weight,omitempty" json:"weight,omitempty"`
}

// IsCritical reports whether the component's failure fails the integration.
func (c Component) IsCritical() bool { return c.Critical == nil || *c.Critical }

// HTTPProbe configures an http component.
type HTTPProbe struct {
	Method         string               `yaml:"method,omitempty" json:"method,omitempty"` // default GET
	Headers        map[string]string    `yaml:"headers,omitempty" json:"headers,omitempty"`
	SecretHeaders  map[string]SecretRef `yaml:"secret_headers,omitempty" json:"secret_headers,omitempty"`
	Body           string               `yaml:"body,omitempty" json:"body,omitempty"`
	ExpectedStatus []int                `yaml:"expected_status,omitempty" json:"expected_status,omitempty"` // default [200]
	MaxRedirects   int                  `yaml:"max_redirects,omitempty" json:"max_redirects,omitempty"`     // default 5; -1 forbids redirects
	Assertions     []Assertion          `yaml:"assertions,omitempty" json:"assertions,omitempty"`
	Metrics        []ExtractedMetric    `yaml:"metrics,omitempty" json:"metrics,omitempty"`
}

// Assertion checks the response body. Exactly one of JSONPath, Contains and
// Regex is set.
//
// With JSONPath alone, the path must select at least one value. Op and Value
// compare every value it selects, and all must pass; Equals is shorthand for
// Op "==" with Value Equals; Length compares each value's length instead of
// the value. ValidateAndSetDefaults (the document's, or its HTTPProbe's)
// parses the path, the comparison and the regex once; Compiled returns them.
type Assertion struct {
	// JSONPath is an RFC 9535 JSONPath query ("$.checks[?@.ok == false]"),
	// or, when it does not start with "$", a dotted path of object keys and
	// array indexes: "checks.0.ok" reads as "$.checks[0].ok".
	JSONPath string `yaml:"json_path,omitempty" json:"json_path,omitempty"`
	// Op is one of the Op constants; "==" when Value is set without it.
	Op string `yaml:"op,omitempty" json:"op,omitempty"`
	// Value is a string, number or boolean that Op compares with.
	Value any `yaml:"value,omitempty" json:"value,omitempty"`
	// Length makes Op compare the length of each selected value (characters
	// of a string, elements of an array, members of an object); Value is
	// then a number.
	Length bool `yaml:"length,omitempty" json:"length,omitempty"`
	// Equals is shorthand for Op "==" with Value Equals, compared as text.
	Equals   *string `yaml:"equals,omitempty" json:"equals,omitempty"`
	Contains string  `yaml:"contains,omitempty" json:"contains,omitempty"`
	Regex    string  `yaml:"regex,omitempty" json:"regex,omitempty"`

	// compiled is the assertion parsed at load, so no probe parses it.
	compiled *CompiledAssertion
}

// The comparisons an assertion's op may name. "==" and "!=" compare as
// numbers when both sides are numbers, and otherwise as text: a string as
// it is, a number in shortest form, true, false, null. "<", "<=", ">" and
// ">=" need numbers on both sides. "contains" asks for a substring of a
// string, or for an element of an array equal ("==") to the value.
const (
	OpEqual          = "=="
	OpNotEqual       = "!="
	OpLess           = "<"
	OpLessOrEqual    = "<="
	OpGreater        = ">"
	OpGreaterOrEqual = ">="
	OpContains       = "contains"
)

// AssertionOps are the ops an assertion may name.
var AssertionOps = []string{OpEqual, OpNotEqual, OpLess, OpLessOrEqual, OpGreater, OpGreaterOrEqual, OpContains}

// CompiledAssertion is an assertion parsed for the probe, as
// Assertion.Compiled returns it.
type CompiledAssertion struct {
	// Path is the parsed json_path; nil for a contains or regex assertion.
	Path *Path
	// Op is the comparison every value Path selects must pass: one of the
	// Op constants, or "" when Path need only select something.
	Op string
	// Want is what Op compares with.
	Want Operand
	// Length makes Op compare each value's length, not the value.
	Length bool
	// Regexp is the compiled regex; nil unless the assertion is a regex.
	Regexp *regexp.Regexp
}

// Operand is an assertion's value, as compared.
type Operand struct {
	// Text is the value as text: a string as written, a number in shortest
	// form, "true" or "false".
	Text string
	// Number is the value, when IsNumber.
	Number float64
	// IsNumber says the value was written as a number.
	IsNumber bool
	// IsString says the value was written as a string (equals always is).
	IsString bool
}

// String writes the operand as a reason quotes it: a string quoted, a
// number or a boolean bare.
func (o Operand) String() string {
	if o.IsString {
		return strconv.Quote(o.Text)
	}
	return o.Text
}

// Path is a parsed json_path: an RFC 9535 JSONPath query. Get one from
// Assertion.Compiled or ExtractedMetric.Path; a zero Path selects
// nothing.
type Path struct {
	text  string // as written, or translated from the dotted form
	query *jsonpath.Path
	// steps are the name and index selectors of a singular query (RFC 9535
	// §2.3.5.1), every dotted path among them: Select walks them without the
	// library's allocations per segment, at every probe. nil for any other
	// query.
	steps []spec.Selector
}

// newPath keeps query with the text reasons quote.
func newPath(text string, query *jsonpath.Path) *Path {
	p := &Path{text: text, query: query}
	if query.Query().Singular() != nil {
		p.steps = make([]spec.Selector, 0, len(query.Query().Segments()))
		for _, seg := range query.Query().Segments() {
			p.steps = append(p.steps, seg.Selectors()[0])
		}
	}
	return p
}

// String returns the path as JSONPath, as reasons quote it: the dotted
// "checks.0.ok" is "$.checks[0].ok".
func (p *Path) String() string { return p.text }

// Select returns the values p selects from doc, a JSON document decoded by
// encoding/json into an any; none when it selects nothing.
func (p *Path) Select(doc any) []any {
	switch {
	case p == nil || p.query == nil:
		return nil
	case p.steps == nil:
		return p.query.Select(doc)
	}
	for _, step := range p.steps {
		var found bool
		switch sel := step.(type) {
		case spec.Name:
			obj, _ := doc.(map[string]any)
			doc, found = obj[string(sel)]
		case spec.Index:
			arr, _ := doc.([]any)
			i := int(sel)
			if i < 0 {
				i += len(arr) // RFC 9535 §2.3.3.2: from the end
			}
			if found = i >= 0 && i < len(arr); found {
				doc = arr[i]
			}
		}
		if !found {
			return nil
		}
	}
	return []any{doc}
}

// ExtractedMetric reads a number from the JSON body and publishes it.
type ExtractedMetric struct {
	Name string `yaml:"name" json:"name"` // CloudWatch metric name, e.g. MemoryMB
	// JSONPath is written as Assertion.JSONPath is, and must select exactly
	// one number.
	JSONPath string   `yaml:"json_path" json:"json_path"`
	Unit     string   `yaml:"unit,omitempty" json:"unit,omitempty"` // CloudWatch unit, default None
	Warning  *float64 `yaml:"warning,omitempty" json:"warning,omitempty"`
	Critical *float64 `yaml:"critical,omitempty" json:"critical,omitempty"`

	// path is JSONPath parsed at load, so no probe parses it.
	path *Path
}

// WebSocketProbe configures a websocket component. Without Send, the
// handshake alone proves health.
type WebSocketProbe struct {
	Headers       map[string]string    `yaml:"headers,omitempty" json:"headers,omitempty"`
	SecretHeaders map[string]SecretRef `yaml:"secret_headers,omitempty" json:"secret_headers,omitempty"`
	Subprotocols  []string             `yaml:"subprotocols,omitempty" json:"subprotocols,omitempty"`
	Send          string               `yaml:"send,omitempty" json:"send,omitempty"`
	Expect        string               `yaml:"expect,omitempty" json:"expect,omitempty"` // substring of the reply
}

// SecretRef names a secret resolved at run time. Exactly one field is set.
type SecretRef struct {
	SSM            string `yaml:"ssm,omitempty" json:"ssm,omitempty"`                       // SecureString parameter name
	SecretsManager string `yaml:"secretsmanager,omitempty" json:"secretsmanager,omitempty"` // secret id or ARN
}

// Recovery configures automatic recovery of an integration.
type Recovery struct {
	Webhook     *Webhook      `yaml:"webhook,omitempty" json:"webhook,omitempty"`
	Lambda      *LambdaAction `yaml:"lambda,omitempty" json:"lambda,omitempty"`
	MaxAttempts int           `yaml:"max_attempts,omitempty" json:"max_attempts"` // default 3
	BaseDelay   Duration      `yaml:"base_delay,omitempty" json:"base_delay"`     // default 1s
	MaxDelay    Duration      `yaml:"max_delay,omitempty" json:"max_delay"`       // default 30s
	Jitter      bool          `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	Cooldown    Duration      `yaml:"cooldown,omitempty" json:"cooldown"` // default 15m
}

// Webhook is an HTTP recovery action.
type Webhook struct {
	URL            string               `yaml:"url" json:"url"`
	Method         string               `yaml:"method,omitempty" json:"method,omitempty"` // default POST
	Headers        map[string]string    `yaml:"headers,omitempty" json:"headers,omitempty"`
	SecretHeaders  map[string]SecretRef `yaml:"secret_headers,omitempty" json:"secret_headers,omitempty"`
	Body           string               `yaml:"body,omitempty" json:"body,omitempty"`
	ExpectedStatus []int                `yaml:"expected_status,omitempty" json:"expected_status,omitempty"` // default [200,202,204]
	Timeout        Duration             `yaml:"timeout,omitempty" json:"timeout"`                           // default 10s
	AllowLoopback  bool                 `yaml:"allow_loopback,omitempty" json:"allow_loopback,omitempty"`
}

// LambdaAction invokes a named Lambda function as the recovery action.
type LambdaAction struct {
	FunctionName string `yaml:"function_name" json:"function_name"`
	Payload      string `yaml:"payload,omitempty" json:"payload,omitempty"` // JSON; default is the incident
}
