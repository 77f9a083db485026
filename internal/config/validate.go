package config

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	// Lambda's provided.al2023 image ships no zoneinfo; embedding it keeps
	// recurring maintenance windows in their time zone.
	_ "time/tzdata"
)

// Defaults applied by ValidateAndSetDefaults to fields left at their zero value.
const (
	DefaultNamespace        = "Vigil"
	DefaultFailureWarning   = 2
	DefaultFailureCritical  = 3
	DefaultLatencyWarning   = time.Second
	DefaultLatencyCritical  = 5 * time.Second
	DefaultSuccessThreshold = 1
	DefaultCertWarningDays  = 14
	DefaultCertCriticalDays = 7
	DefaultMaxTransitions   = 6
	DefaultFlappingWindow   = 15 * time.Minute
	DefaultTimeout          = 5 * time.Second
	DefaultWeight           = 1.0
	DefaultMaxRedirects     = 5
	DefaultMaxAttempts      = 3
	DefaultBaseDelay        = time.Second
	DefaultMaxDelay         = 30 * time.Second
	DefaultCooldown         = 15 * time.Minute
	DefaultWebhookTimeout   = 10 * time.Second
	DefaultUnit             = "None"
	DefaultTimeZone         = "UTC"
)

// Limits checked by ValidateAndSetDefaults.
const (
	// MaxTimeout bounds probe and webhook timeouts: a check runs every minute.
	MaxTimeout = 60 * time.Second
	// MaxMaxDelay bounds the recovery backoff; each delay is a Step Functions
	// Wait state and a longer one would outlive the incident it serves.
	MaxMaxDelay = 5 * time.Minute
	// MaxAttemptsLimit bounds recovery attempts per incident.
	MaxAttemptsLimit = 10
	// MaxRedirectsLimit bounds max_redirects.
	MaxRedirectsLimit = 20
	// MaxWindowDuration bounds a recurring maintenance window: longer than a
	// week it would overlap its own next occurrence.
	MaxWindowDuration = 7 * 24 * time.Hour
	// MaxComponents bounds an integration's components: its whole state is
	// one DynamoDB item (400 KB), and at this many components, each with the
	// longest name and error, the item stays near 280 KB (store's
	// TestWorstCaseItemFits writes it). Split a larger system into several
	// integrations.
	MaxComponents = 250
	// MaxMetrics bounds the body metrics an integration extracts: each is
	// stored in its state item and billed as a custom metric.
	MaxMetrics = 20
	// MaxControls bounds the document's control targets.
	MaxControls = 10
	// MaxNameLen bounds integration and component names: they become
	// CloudWatch dimension values and parts of execution names.
	MaxNameLen = 64
)

// CloudWatchUnits are the units an extracted metric may declare.
var CloudWatchUnits = []string{
	"None", "Percent", "Count",
	"Seconds", "Microseconds", "Milliseconds",
	"Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
	"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
	"Count/Second",
}

// HTTPMethods are the methods probes and webhooks may use.
var HTTPMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Weekdays are the day names of a recurring maintenance window.
var Weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Lengths are checked apart from the patterns: a bounded repetition such as
// {0,254} compiles into hundreds of states, and the patterns are compiled at
// every cold start.
var (
	// Names become CloudWatch dimension values and parts of Step Functions
	// execution names (80 characters, no spaces or punctuation beyond these).
	nameRE = lengthPattern{regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`), MaxNameLen}
	// CloudWatch accepts more, but these characters survive dashboards,
	// alarm names and metric math without quoting.
	metricNameRE = lengthPattern{regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_./#:-]*$`), 255}
	// CloudWatch namespace rule; "AWS/" is reserved and checked separately.
	namespaceRE = lengthPattern{regexp.MustCompile(`^[A-Za-z0-9_./#: -]+$`), 255}
	// Lambda's own FunctionName pattern: a name, a partial or a full ARN,
	// with an optional qualifier.
	functionNameRE = regexp.MustCompile(`^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$`)
	atRE           = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
)

// lengthPattern is a pattern with a maximum length in bytes.
type lengthPattern struct {
	re  *regexp.Regexp
	max int
}

func (p lengthPattern) MatchString(s string) bool { return len(s) <= p.max && p.re.MatchString(s) }

// String describes the rule in error messages.
func (p lengthPattern) String() string {
	return fmt.Sprintf("%s, at most %d characters", p.re, p.max)
}

// ValidateAndSetDefaults fills defaults and validates the whole document. It
// returns every problem found, joined with errors.Join, each naming the
// integration, component and field; a document with any problem must not be
// used.
func (d *Document) ValidateAndSetDefaults() error {
	var l errs
	if d.Namespace == "" {
		d.Namespace = DefaultNamespace
	}
	if !namespaceRE.MatchString(d.Namespace) || strings.HasPrefix(d.Namespace, "AWS/") || strings.TrimSpace(d.Namespace) == "" {
		l.add("namespace", ErrInvalidValue, "%q is not a usable CloudWatch namespace", d.Namespace)
	}
	if len(d.Integrations) == 0 {
		l = append(l, ErrNoIntegrations)
	}
	if len(d.Controls) > MaxControls {
		l.add("controls", ErrOutOfRange, "at most %d control targets, got %d", MaxControls, len(d.Controls))
	}
	controls := map[string]int{}
	for i := range d.Controls {
		c := &d.Controls[i]
		id := identity("control", c.Name, i)
		l.within(id, c.ValidateAndSetDefaults())
		if first, dup := controls[c.Name]; dup && c.Name != "" {
			l.within(id, &fieldError{field: "name", msg: fmt.Sprintf("duplicate name, also control #%d", first+1), err: ErrDuplicateName})
			continue
		}
		controls[c.Name] = i
	}
	seen := map[string]int{}
	for i := range d.Integrations {
		in := &d.Integrations[i]
		id := identity("integration", in.Name, i)
		l.within(id, in.ValidateAndSetDefaults())
		if in.Name == "" {
			continue
		}
		if first, dup := seen[in.Name]; dup {
			l.within(id, &fieldError{field: "name", msg: fmt.Sprintf("duplicate name, also integration #%d", first+1), err: ErrDuplicateName})
			continue
		}
		seen[in.Name] = i
	}
	return l.join()
}

// identity names an element in errors; an unnamed one is named by position.
func identity(kind, name string, i int) string {
	if name == "" {
		return fmt.Sprintf("%s #%d", kind, i+1)
	}
	return fmt.Sprintf("%s %q", kind, name)
}

// ValidateAndSetDefaults fills the integration's defaults and validates it
// with its components. Errors name the component and field but not the
// integration; Document.ValidateAndSetDefaults adds that.
func (in *Integration) ValidateAndSetDefaults() error {
	var l errs
	checkName(&l, "name", in.Name)
	l.nest("thresholds", in.Thresholds.validateAndSetDefaults())
	l.nest("flapping", in.Flapping.validateAndSetDefaults())
	if in.Recovery != nil {
		l.nest("recovery", in.Recovery.ValidateAndSetDefaults())
	}
	for i := range in.Maintenance {
		l.nest(fmt.Sprintf("maintenance[%d]", i), in.Maintenance[i].ValidateAndSetDefaults())
	}

	switch {
	case len(in.Components) == 0:
		l.addErr("components", ErrNoComponents)
	case len(in.Components) > MaxComponents:
		l.add("components", ErrOutOfRange, "at most %d components per integration (its state is one DynamoDB item), got %d; split it into several integrations", MaxComponents, len(in.Components))
	}
	names := map[string]int{}
	metrics := map[string]string{}
	allZero := true
	for i := range in.Components {
		c := &in.Components[i]
		id := identity("component", c.Name, i)
		l.within(id, c.ValidateAndSetDefaults())
		if c.Weight != 0 {
			allZero = false
		}
		if c.Name != "" {
			if first, dup := names[c.Name]; dup {
				l.within(id, &fieldError{field: "name", msg: fmt.Sprintf("duplicate name, also component #%d", first+1), err: ErrDuplicateName})
			} else {
				names[c.Name] = i
			}
		}
		// Extracted metrics are published under the integration's dimension,
		// so two components publishing one name would mix their series.
		if c.HTTP != nil {
			for j, m := range c.HTTP.Metrics {
				if m.Name == "" {
					continue
				}
				if other, dup := metrics[m.Name]; dup && other != c.Name {
					l.within(id, &fieldError{field: fmt.Sprintf("http.metrics[%d].name", j), msg: fmt.Sprintf("metric %q is also extracted by component %q", m.Name, other), err: ErrDuplicateName})
					continue
				}
				metrics[m.Name] = c.Name
			}
		}
	}
	if len(metrics) > MaxMetrics {
		l.add("components", ErrOutOfRange, "at most %d body metrics per integration, got %d", MaxMetrics, len(metrics))
	}
	if len(in.Components) > 0 && allZero {
		l.add("components", ErrOutOfRange, "every component has weight 0; the score would be undefined")
	}
	return l.join()
}

func checkName(l *errs, field, name string) {
	switch {
	case name == "":
		l.addErr(field, ErrRequired)
	case !nameRE.MatchString(name):
		l.add(field, ErrInvalidName, "%q must match %s", name, nameRE)
	}
}

func (t *Thresholds) validateAndSetDefaults() error {
	var l errs
	setInt(&t.FailureWarning, DefaultFailureWarning)
	setInt(&t.FailureCritical, DefaultFailureCritical)
	setDur(&t.LatencyWarning, DefaultLatencyWarning)
	setDur(&t.LatencyCritical, DefaultLatencyCritical)
	setInt(&t.SuccessThreshold, DefaultSuccessThreshold)
	setInt(&t.CertWarningDays, DefaultCertWarningDays)
	setInt(&t.CertCriticalDays, DefaultCertCriticalDays)

	positiveInt(&l, "failure_warning", t.FailureWarning)
	positiveInt(&l, "failure_critical", t.FailureCritical)
	positiveInt(&l, "success_threshold", t.SuccessThreshold)
	positiveInt(&l, "cert_warning_days", t.CertWarningDays)
	positiveInt(&l, "cert_critical_days", t.CertCriticalDays)
	positiveDur(&l, "latency_warning", t.LatencyWarning)
	positiveDur(&l, "latency_critical", t.LatencyCritical)
	if t.FailureWarning > t.FailureCritical {
		l.add("failure_warning", ErrOutOfRange, "must be <= failure_critical (%d), got %d", t.FailureCritical, t.FailureWarning)
	}
	if t.LatencyWarning > t.LatencyCritical {
		l.add("latency_warning", ErrOutOfRange, "must be <= latency_critical (%s), got %s", t.LatencyCritical.D(), t.LatencyWarning.D())
	}
	// Certificate days count down: warning comes first, at more days left.
	if t.CertWarningDays < t.CertCriticalDays {
		l.add("cert_warning_days", ErrOutOfRange, "must be >= cert_critical_days (%d), got %d", t.CertCriticalDays, t.CertWarningDays)
	}
	return l.join()
}

func (f *Flapping) validateAndSetDefaults() error {
	var l errs
	setInt(&f.MaxTransitions, DefaultMaxTransitions)
	setDur(&f.Window, DefaultFlappingWindow)
	positiveInt(&l, "max_transitions", f.MaxTransitions)
	positiveDur(&l, "window", f.Window)
	return l.join()
}

// ValidateAndSetDefaults fills the component's defaults and validates it.
// Errors name the field but not the component; Integration adds that.
func (c *Component) ValidateAndSetDefaults() error {
	var l errs
	checkName(&l, "name", c.Name)
	setDur(&c.Timeout, DefaultTimeout)
	if c.Critical == nil {
		t := true
		c.Critical = &t
	}
	if c.Weight == 0 && !c.weightSet {
		c.Weight = DefaultWeight
	}
	if c.Timeout <= 0 || c.Timeout.D() > MaxTimeout {
		l.add("timeout", ErrOutOfRange, "must be > 0 and <= %s, got %s", MaxTimeout, c.Timeout.D())
	}
	if c.Weight < 0 || math.IsNaN(c.Weight) || math.IsInf(c.Weight, 0) {
		l.add("weight", ErrOutOfRange, "must be a finite number >= 0, got %v", c.Weight)
	}

	switch c.Type {
	case TypeHTTP:
		if err := checkURL(c.Target, httpSchemes, c.AllowLoopback, c.AllowLinkLocal); err != nil {
			l.addErr("target", err)
		}
		if c.HTTP == nil {
			c.HTTP = &HTTPProbe{}
		}
		l.nest("http", c.HTTP.ValidateAndSetDefaults())
	case TypeWebSocket:
		if err := checkURL(c.Target, wsSchemes, c.AllowLoopback, c.AllowLinkLocal); err != nil {
			l.addErr("target", err)
		}
		if c.WebSocket != nil {
			l.nest("websocket", c.WebSocket.ValidateAndSetDefaults())
		}
	case TypeTCP:
		if err := checkHostPort(c.Target, c.AllowLoopback, c.AllowLinkLocal); err != nil {
			l.addErr("target", err)
		}
	case "":
		l.add("type", ErrRequired, "must be set (%s, %s or %s)", TypeHTTP, TypeWebSocket, TypeTCP)
	default:
		l.add("type", ErrInvalidType, "%q is not %s, %s or %s", c.Type, TypeHTTP, TypeWebSocket, TypeTCP)
	}
	if c.HTTP != nil && c.Type != TypeHTTP {
		l.add("http", ErrConflict, "only allowed with type %s", TypeHTTP)
	}
	if c.WebSocket != nil && c.Type != TypeWebSocket {
		l.add("websocket", ErrConflict, "only allowed with type %s", TypeWebSocket)
	}
	if c.InsecureSkipVerify && c.Type == TypeTCP {
		l.add("insecure_skip_verify", ErrConflict, "has no effect with type %s", TypeTCP)
	}
	return l.join()
}

// ValidateAndSetDefaults fills the HTTP probe's defaults and validates it.
func (h *HTTPProbe) ValidateAndSetDefaults() error {
	var l errs
	if h.Method == "" {
		h.Method = "GET"
	}
	if len(h.ExpectedStatus) == 0 {
		h.ExpectedStatus = []int{200}
	}
	setInt(&h.MaxRedirects, DefaultMaxRedirects)
	checkMethod(&l, h.Method)
	checkStatuses(&l, h.ExpectedStatus)
	if h.MaxRedirects < -1 || h.MaxRedirects > MaxRedirectsLimit {
		l.add("max_redirects", ErrOutOfRange, "must be -1 (no redirects) or 1..%d, got %d", MaxRedirectsLimit, h.MaxRedirects)
	}
	checkHeaders(&l, h.Headers, h.SecretHeaders)
	for i, a := range h.Assertions {
		l.nest(fmt.Sprintf("assertions[%d]", i), a.Validate())
	}
	seen := map[string]bool{}
	for i := range h.Metrics {
		m := &h.Metrics[i]
		field := fmt.Sprintf("metrics[%d]", i)
		l.nest(field, m.ValidateAndSetDefaults())
		if m.Name != "" && seen[m.Name] {
			l.add(field+".name", ErrDuplicateName, "metric %q is extracted twice", m.Name)
		}
		seen[m.Name] = true
	}
	return l.join()
}

// Validate checks an assertion; it has no defaults.
func (a Assertion) Validate() error {
	var l errs
	set := 0
	for _, s := range []string{a.JSONPath, a.Contains, a.Regex} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		l.add("json_path", ErrConflict, "exactly one of json_path, contains, regex must be set, got %d", set)
	}
	if a.Equals != nil && a.JSONPath == "" {
		l.add("equals", ErrConflict, "only allowed with json_path")
	}
	if a.JSONPath != "" {
		if err := checkJSONPath(a.JSONPath); err != nil {
			l.addErr("json_path", err)
		}
	}
	if a.Regex != "" {
		if _, err := regexp.Compile(a.Regex); err != nil {
			l.add("regex", ErrInvalidValue, "does not compile: %v", err)
		}
	}
	return l.join()
}

// checkJSONPath accepts the dotted paths the probe resolves: object keys and
// array indexes separated by dots, none empty ("status", "checks.0.ok").
func checkJSONPath(p string) error {
	if slices.Contains(strings.Split(p, "."), "") {
		return fmt.Errorf("%w: %q has an empty segment; want dotted keys such as \"checks.0.ok\"", ErrInvalidValue, p)
	}
	return nil
}

// ValidateAndSetDefaults fills the unit and validates the metric.
func (m *ExtractedMetric) ValidateAndSetDefaults() error {
	var l errs
	if m.Unit == "" {
		m.Unit = DefaultUnit
	}
	switch {
	case m.Name == "":
		l.addErr("name", ErrRequired)
	case !metricNameRE.MatchString(m.Name):
		l.add("name", ErrInvalidName, "%q is not a valid CloudWatch metric name (must match %s)", m.Name, metricNameRE)
	}
	if m.JSONPath == "" {
		l.addErr("json_path", ErrRequired)
	} else if err := checkJSONPath(m.JSONPath); err != nil {
		l.addErr("json_path", err)
	}
	if !slices.Contains(CloudWatchUnits, m.Unit) {
		l.add("unit", ErrInvalidValue, "%q is not a CloudWatch unit (one of %s)", m.Unit, strings.Join(CloudWatchUnits, ", "))
	}
	finite(&l, "warning", m.Warning)
	finite(&l, "critical", m.Critical)
	// Thresholds of extracted metrics mean "higher is worse".
	if m.Warning != nil && m.Critical != nil && *m.Warning > *m.Critical {
		l.add("warning", ErrOutOfRange, "must be <= critical (%v), got %v", *m.Critical, *m.Warning)
	}
	return l.join()
}

// ValidateAndSetDefaults validates the websocket probe; it has no defaults.
func (w *WebSocketProbe) ValidateAndSetDefaults() error {
	var l errs
	checkHeaders(&l, w.Headers, w.SecretHeaders)
	for i, p := range w.Subprotocols {
		if !isToken(p) {
			l.add(fmt.Sprintf("subprotocols[%d]", i), ErrInvalidValue, "%q is not a valid subprotocol token", p)
		}
	}
	if w.Expect != "" && w.Send == "" {
		l.add("expect", ErrConflict, "needs send: a reply is only awaited after a message is sent")
	}
	return l.join()
}

// Validate checks that exactly one source is named.
func (s SecretRef) Validate() error {
	switch {
	case s.SSM == "" && s.SecretsManager == "":
		return fmt.Errorf("%w: one of ssm, secretsmanager must be set", ErrConflict)
	case s.SSM != "" && s.SecretsManager != "":
		return fmt.Errorf("%w: only one of ssm, secretsmanager may be set", ErrConflict)
	case strings.ContainsAny(s.SSM+s.SecretsManager, " \t\r\n"):
		return fmt.Errorf("%w: secret reference contains white space", ErrInvalidValue)
	}
	return nil
}

// ValidateAndSetDefaults fills the recovery defaults and validates it.
func (r *Recovery) ValidateAndSetDefaults() error {
	var l errs
	setInt(&r.MaxAttempts, DefaultMaxAttempts)
	setDur(&r.BaseDelay, DefaultBaseDelay)
	setDur(&r.MaxDelay, DefaultMaxDelay)
	setDur(&r.Cooldown, DefaultCooldown)
	switch {
	case r.Webhook == nil && r.Lambda == nil:
		l.add("webhook", ErrConflict, "one of webhook, lambda must be set")
	case r.Webhook != nil && r.Lambda != nil:
		l.add("lambda", ErrConflict, "only one of webhook, lambda may be set")
	}
	if r.Webhook != nil {
		l.nest("webhook", r.Webhook.ValidateAndSetDefaults())
	}
	if r.Lambda != nil {
		l.nest("lambda", r.Lambda.Validate())
	}
	if r.MaxAttempts < 1 || r.MaxAttempts > MaxAttemptsLimit {
		l.add("max_attempts", ErrOutOfRange, "must be 1..%d, got %d", MaxAttemptsLimit, r.MaxAttempts)
	}
	positiveDur(&l, "base_delay", r.BaseDelay)
	if r.MaxDelay < r.BaseDelay || r.MaxDelay.D() > MaxMaxDelay {
		l.add("max_delay", ErrOutOfRange, "must be >= base_delay (%s) and <= %s, got %s", r.BaseDelay.D(), MaxMaxDelay, r.MaxDelay.D())
	}
	if r.Cooldown < 0 {
		l.add("cooldown", ErrOutOfRange, "must be >= 0, got %s", r.Cooldown.D())
	}
	return l.join()
}

// ValidateAndSetDefaults fills the webhook defaults and validates it.
// Link-local and instance metadata addresses are always refused: a recovery
// action has no reason to reach them.
func (w *Webhook) ValidateAndSetDefaults() error {
	var l errs
	if w.Method == "" {
		w.Method = "POST"
	}
	if len(w.ExpectedStatus) == 0 {
		w.ExpectedStatus = []int{200, 202, 204}
	}
	setDur(&w.Timeout, DefaultWebhookTimeout)
	if err := checkURL(w.URL, httpSchemes, w.AllowLoopback, false); err != nil {
		l.addErr("url", err)
	}
	checkMethod(&l, w.Method)
	checkStatuses(&l, w.ExpectedStatus)
	checkHeaders(&l, w.Headers, w.SecretHeaders)
	if w.Timeout <= 0 || w.Timeout.D() > MaxTimeout {
		l.add("timeout", ErrOutOfRange, "must be > 0 and <= %s, got %s", MaxTimeout, w.Timeout.D())
	}
	return l.join()
}

// Validate checks the Lambda action; it has no defaults.
func (a LambdaAction) Validate() error {
	var l errs
	switch {
	case a.FunctionName == "":
		l.addErr("function_name", ErrRequired)
	case len(a.FunctionName) > 170 || !functionNameRE.MatchString(a.FunctionName):
		l.add("function_name", ErrInvalidValue, "%q is not a Lambda function name or ARN", a.FunctionName)
	}
	if a.Payload != "" && !json.Valid([]byte(a.Payload)) {
		l.add("payload", ErrInvalidValue, "is not valid JSON")
	}
	return l.join()
}

// ValidateAndSetDefaults fills the time zone of a recurring window and
// validates the window: either one-off (start < end) or recurring (at,
// duration, optional days), never both.
func (w *MaintenanceWindow) ValidateAndSetDefaults() error {
	var l errs
	oneOff := w.Start != nil || w.End != nil
	recurring := w.At != "" || w.Duration != 0 || len(w.Days) > 0
	if w.TimeZone == "" {
		w.TimeZone = DefaultTimeZone
	}
	if _, err := time.LoadLocation(w.TimeZone); err != nil {
		l.add("time_zone", ErrInvalidValue, "%q is not an IANA time zone: %v", w.TimeZone, err)
	}
	switch {
	case oneOff && recurring:
		l.add("start", ErrConflict, "a window is either one-off (start, end) or recurring (at, duration, days), not both")
	case oneOff:
		switch {
		case w.Start == nil:
			l.addErr("start", ErrRequired)
		case w.End == nil:
			l.addErr("end", ErrRequired)
		case !w.Start.Before(*w.End):
			l.add("end", ErrOutOfRange, "must be after start (%s), got %s", w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
		}
	case recurring:
		if _, _, ok := parseAt(w.At); !ok {
			l.add("at", ErrInvalidValue, "%q must be a local time \"HH:MM\"", w.At)
		}
		if w.Duration <= 0 || w.Duration.D() > MaxWindowDuration {
			l.add("duration", ErrOutOfRange, "must be > 0 and <= %s, got %s", MaxWindowDuration, w.Duration.D())
		}
		for i, d := range w.Days {
			if !slices.Contains(Weekdays, d) {
				l.add(fmt.Sprintf("days[%d]", i), ErrInvalidValue, "%q is not one of %s", d, strings.Join(Weekdays, ", "))
			}
		}
	default:
		l.add("start", ErrRequired, "set start and end for a one-off window, or at and duration for a recurring one")
	}
	return l.join()
}

func parseAt(s string) (hour, minute int, ok bool) {
	m := atRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, false
	}
	hour, _ = strconv.Atoi(m[1])
	minute, _ = strconv.Atoi(m[2])
	return hour, minute, true
}

func checkMethod(l *errs, method string) {
	if !slices.Contains(HTTPMethods, method) {
		l.add("method", ErrInvalidValue, "%q is not one of %s", method, strings.Join(HTTPMethods, ", "))
	}
}

func checkStatuses(l *errs, codes []int) {
	for i, c := range codes {
		if c < 100 || c > 599 {
			l.add(fmt.Sprintf("expected_status[%d]", i), ErrOutOfRange, "must be an HTTP status 100..599, got %d", c)
		}
	}
}

// checkHeaders validates plain and secret headers together: a name set in
// both would leave which value is sent to chance.
func checkHeaders(l *errs, plain map[string]string, secret map[string]SecretRef) {
	for _, name := range sortedKeys(plain) {
		field := fmt.Sprintf("headers[%s]", name)
		if !isToken(name) {
			l.add(field, ErrInvalidValue, "%q is not a valid header name", name)
		}
		if strings.ContainsAny(plain[name], "\r\n\x00") {
			l.add(field, ErrInvalidValue, "value contains CR, LF or NUL")
		}
	}
	lower := map[string]bool{}
	for name := range plain {
		lower[strings.ToLower(name)] = true
	}
	for _, name := range sortedKeys(secret) {
		field := fmt.Sprintf("secret_headers[%s]", name)
		if !isToken(name) {
			l.add(field, ErrInvalidValue, "%q is not a valid header name", name)
		}
		if lower[strings.ToLower(name)] {
			l.add(field, ErrConflict, "header %q is also set in headers", name)
		}
		if err := secret[name].Validate(); err != nil {
			l.addErr(field, err)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// isToken reports whether s is an RFC 9110 token, the syntax of header
// names and WebSocket subprotocols.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func setInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

func setDur(v *Duration, def time.Duration) {
	if *v == 0 {
		*v = Duration(def)
	}
}

func positiveInt(l *errs, field string, v int) {
	if v <= 0 {
		l.add(field, ErrOutOfRange, "must be > 0, got %d", v)
	}
}

func finite(l *errs, field string, v *float64) {
	if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
		l.add(field, ErrOutOfRange, "must be a finite number, got %v", *v)
	}
}

func positiveDur(l *errs, field string, v Duration) {
	if v <= 0 {
		l.add(field, ErrOutOfRange, "must be > 0, got %s", v.D())
	}
}
