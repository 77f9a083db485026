// Package config loads and validates Vigil's integration document (SPEC §2).
//
// A document is decoded strictly and validated as a whole: one bad field refuses
// the document, with an error naming the integration, component and field.
package config

import (
	"time"
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
}

// Component is one probed endpoint of an integration.
type Component struct {
	Name     string   `yaml:"name" json:"name"`
	Type     string   `yaml:"type" json:"type"`                             // http | websocket | tcp
	Target   string   `yaml:"target" json:"target"`                         // URL for http/websocket, host:port for tcp
	Timeout  Duration `yaml:"timeout,omitempty" json:"timeout"`             // default 5s
	Critical *bool    `yaml:"critical,omitempty" json:"critical,omitempty"` // default true
	Weight   float64  `yaml:"weight,omitempty" json:"weight,omitempty"`     // default 1; 0 only when written explicitly

	// Destinations refused by default (SPEC §10) that this component may reach.
	AllowLoopback  bool `yaml:"allow_loopback,omitempty" json:"allow_loopback,omitempty"`
	AllowLinkLocal bool `yaml:"allow_link_local,omitempty" json:"allow_link_local,omitempty"`
	// InsecureSkipVerify turns off TLS verification for this component only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`

	HTTP      *HTTPProbe      `yaml:"http,omitempty" json:"http,omitempty"`
	WebSocket *WebSocketProbe `yaml:"websocket,omitempty" json:"websocket,omitempty"`

	// weightSet records that the document wrote weight, so an explicit 0
	// (observe without scoring) is kept instead of defaulted to 1.
	weightSet bool
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

// Assertion checks the response body. Exactly one of JSONPath, Contains, Regex
// is set; with JSONPath, Equals (compared as text) is optional and absence of
// the path fails.
type Assertion struct {
	JSONPath string  `yaml:"json_path,omitempty" json:"json_path,omitempty"` // dotted path: "status", "checks.0.ok"
	Equals   *string `yaml:"equals,omitempty" json:"equals,omitempty"`
	Contains string  `yaml:"contains,omitempty" json:"contains,omitempty"`
	Regex    string  `yaml:"regex,omitempty" json:"regex,omitempty"`
}

// ExtractedMetric reads a number from the JSON body and publishes it.
type ExtractedMetric struct {
	Name     string   `yaml:"name" json:"name"` // CloudWatch metric name, e.g. MemoryMB
	JSONPath string   `yaml:"json_path" json:"json_path"`
	Unit     string   `yaml:"unit,omitempty" json:"unit,omitempty"` // CloudWatch unit, default None
	Warning  *float64 `yaml:"warning,omitempty" json:"warning,omitempty"`
	Critical *float64 `yaml:"critical,omitempty" json:"critical,omitempty"`
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
