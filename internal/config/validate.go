package config

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	// Lambda's provided.al2023 image ships no zoneinfo; embedding it keeps
	// recurring maintenance windows in their time zone.
	_ "time/tzdata"

	"github.com/theory/jsonpath"
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
	DefaultSLO              = 99.9
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

// reservedMetricNames are the dimension names body metrics are published
// with (metrics.DimIntegration, metrics.DimComponent), which a metric name
// cannot repeat.
var reservedMetricNames = []string{"Integration", "Component"}

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
	if in.SLO == 0 {
		in.SLO = DefaultSLO
	}
	// 100 % leaves no error budget: every failed check would page.
	if !(in.SLO >= 50 && in.SLO < 100) || math.IsNaN(in.SLO) {
		l.add("slo", ErrOutOfRange, "must be a percentage from 50 up to, not including, 100, got %v", in.SLO)
	}
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
		// Extracted metrics are published with dimensions Integration,
		// Component, so two components sharing a name would not mix their
		// series; one component per name keeps the name one series (one
		// custom metric, one pair of alarms), which MaxMetrics counts.
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
	switch {
	case c.Written != nil:
		c.Weight = *c.Written
	case c.Weight == 0:
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

// ValidateAndSetDefaults fills the HTTP probe's defaults and validates it. It
// parses every assertion and every metric's json_path once and keeps them,
// so probes never parse.
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
	for i := range h.Assertions {
		a := &h.Assertions[i]
		c, err := a.compile()
		l.nest(fmt.Sprintf("assertions[%d]", i), err)
		a.compiled = nil
		if err == nil {
			a.compiled = &c
		}
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
	_, err := a.compile()
	return err
}

// Compiled returns the assertion parsed. ValidateAndSetDefaults parses a
// document's assertions once and keeps them; an assertion that never went
// through it is parsed on each call, and fails with what Validate reports.
func (a Assertion) Compiled() (CompiledAssertion, error) {
	if a.compiled != nil {
		return *a.compiled, nil
	}
	return a.compile()
}

// compile parses and checks the assertion: the one code path of Validate
// and Compiled.
func (a Assertion) compile() (CompiledAssertion, error) {
	var (
		l errs
		c CompiledAssertion
	)
	set := 0
	for _, s := range []string{a.JSONPath, a.Contains, a.Regex} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		l.add("json_path", ErrConflict, "exactly one of json_path, contains, regex must be set, got %d", set)
	}
	if a.JSONPath == "" {
		for _, f := range []struct {
			name string
			set  bool
		}{{"equals", a.Equals != nil}, {"op", a.Op != ""}, {"value", a.Value != nil}, {"length", a.Length}} {
			if f.set {
				l.add(f.name, ErrConflict, "only allowed with json_path")
			}
		}
	} else {
		p, err := parsePath(a.JSONPath)
		if err != nil {
			l.addErr("json_path", err)
		}
		c.Path = p
		c.Op, c.Want, c.Length = a.comparison(&l)
	}
	if a.Regex != "" {
		re, err := regexp.Compile(a.Regex)
		if err != nil {
			l.add("regex", ErrInvalidValue, "does not compile: %v", err)
		}
		c.Regexp = re
	}
	return c, l.join()
}

// comparison reads the op, value and length of a json_path assertion, or
// its equals shorthand, adding any problem to l.
func (a Assertion) comparison(l *errs) (op string, want Operand, length bool) {
	if a.Equals != nil {
		if a.Op != "" || a.Value != nil || a.Length {
			l.add("equals", ErrConflict, `is shorthand for op "==" with value; set equals, or op and value, not both`)
		}
		return OpEqual, Operand{Text: *a.Equals, IsString: true}, false
	}
	op = a.Op
	if op == "" && a.Value != nil {
		op = OpEqual
	}
	switch {
	case op == "" && a.Length:
		l.add("op", ErrRequired, "must be set with length")
		return "", want, false
	case op == "":
		// The path need only select something.
		return "", want, false
	case !slices.Contains(AssertionOps, op):
		l.add("op", ErrInvalidValue, "%q is not one of %s", op, strings.Join(AssertionOps, ", "))
		return "", want, false
	case a.Value == nil:
		l.add("value", ErrRequired, "must be set with op %q", op)
		return "", want, false
	}
	want, err := operand(a.Value)
	if err != nil {
		l.addErr("value", err)
		return "", want, false
	}
	ordered := op != OpEqual && op != OpNotEqual && op != OpContains
	switch {
	case a.Length && op == OpContains:
		l.add("length", ErrConflict, "compares a length, which op %q cannot", op)
	case a.Length && !want.IsNumber:
		l.add("value", ErrInvalidValue, "must be a number with length, got %s", want)
	case ordered && !want.IsNumber:
		l.add("value", ErrInvalidValue, "must be a number with op %q, got %s", op, want)
	}
	return op, want, a.Length
}

// operand reads an assertion's value as YAML decoded it.
func operand(v any) (Operand, error) {
	switch v := v.(type) {
	case string:
		return Operand{Text: v, IsString: true}, nil
	case bool:
		return Operand{Text: strconv.FormatBool(v)}, nil
	case time.Time:
		return Operand{}, fmt.Errorf("%w: YAML reads an unquoted date as a timestamp; quote it to compare it as text", ErrInvalidValue)
	}
	var f float64
	switch rv := reflect.ValueOf(v); {
	case rv.CanInt():
		f = float64(rv.Int())
	case rv.CanUint():
		f = float64(rv.Uint())
	case rv.CanFloat():
		f = rv.Float()
	case rv.Kind() == reflect.Slice:
		return Operand{}, fmt.Errorf("%w: must be a string, number or boolean, got a list", ErrInvalidValue)
	case rv.Kind() == reflect.Map:
		return Operand{}, fmt.Errorf("%w: must be a string, number or boolean, got a mapping", ErrInvalidValue)
	default:
		return Operand{}, fmt.Errorf("%w: must be a string, number or boolean, got %T", ErrInvalidValue, v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Operand{}, fmt.Errorf("%w: must be a finite number, got %v", ErrOutOfRange, f)
	}
	return Operand{Text: strconv.FormatFloat(f, 'g', -1, 64), Number: f, IsNumber: true}, nil
}

// parsePath parses a json_path: RFC 9535 JSONPath when it starts with "$",
// else the dotted form, translated.
func parsePath(s string) (*Path, error) {
	text := s
	if !strings.HasPrefix(s, "$") {
		var err error
		if text, err = dottedToJSONPath(s); err != nil {
			return nil, err
		}
	}
	q, err := jsonpath.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not RFC 9535 JSONPath: %s", ErrInvalidValue, s, strings.TrimPrefix(err.Error(), "jsonpath: "))
	}
	return newPath(text, q), nil
}

// dottedToJSONPath translates the dotted paths of earlier documents: each
// segment an object key, or an array index when it is all digits, none
// empty ("checks.0.ok" is "$.checks[0].ok"). A key that is not a JSONPath
// member name ("used-mb") is written as a quoted name selector.
func dottedToJSONPath(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('$')
	for seg := range strings.SplitSeq(s, ".") {
		if seg == "" {
			return "", fmt.Errorf(`%w: %q has an empty segment; want dotted keys such as "checks.0.ok", or JSONPath from "$"`, ErrInvalidValue, s)
		}
		if i, ok := arrayIndex(seg); ok {
			fmt.Fprintf(&b, "[%d]", i)
			continue
		}
		if isMemberName(seg) {
			b.WriteString("." + seg)
			continue
		}
		// RFC 9535 §2.3.1.1: in a single-quoted name, escape the quote, the
		// backslash and control characters.
		b.WriteString("['")
		for _, r := range seg {
			switch {
			case r == '\\' || r == '\'':
				b.WriteString(`\` + string(r))
			case r < 0x20:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteString("']")
	}
	return b.String(), nil
}

// arrayIndex reads an all-digit segment as an index within RFC 9535's
// range (I-JSON integers).
func arrayIndex(seg string) (int64, bool) {
	if strings.Trim(seg, "0123456789") != "" {
		return 0, false
	}
	i, err := strconv.ParseInt(seg, 10, 64)
	return i, err == nil && i <= 1<<53-1
}

// isMemberName reports whether seg may follow a dot in JSONPath (RFC 9535
// member-name-shorthand): letters, "_", non-ASCII and, after the first
// character, digits.
func isMemberName(seg string) bool {
	for i, r := range seg {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', r >= 0x80 && r != utf8.RuneError:
		case i > 0 && '0' <= r && r <= '9':
		default:
			return false
		}
	}
	return true
}

// ValidateAndSetDefaults fills the unit and validates the metric, parsing
// its json_path once.
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
	case slices.Contains(reservedMetricNames, m.Name):
		// Metrics leave as EMF documents whose members are the metric and
		// the dimension names side by side.
		l.add("name", ErrInvalidName, "%q is the name of a dimension the metric is published with", m.Name)
	}
	m.path = nil
	if m.JSONPath == "" {
		l.addErr("json_path", ErrRequired)
	} else if p, err := parsePath(m.JSONPath); err != nil {
		l.addErr("json_path", err)
	} else {
		m.path = p
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

// Path returns the metric's json_path parsed: once by ValidateAndSetDefaults,
// or on each call for a metric that never went through it.
func (m ExtractedMetric) Path() (*Path, error) {
	if m.path != nil {
		return m.path, nil
	}
	if m.JSONPath == "" {
		return nil, fmt.Errorf("json_path: %w", ErrRequired)
	}
	return parsePath(m.JSONPath)
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
// duration, optional days), never both. It resolves a valid recurring
// window's time zone and start time once, for Active.
func (w *MaintenanceWindow) ValidateAndSetDefaults() error {
	var l errs
	w.recurring = nil
	oneOff := w.Start != nil || w.End != nil
	recurring := w.At != "" || w.Duration != 0 || len(w.Days) > 0
	if w.TimeZone == "" {
		w.TimeZone = DefaultTimeZone
	}
	loc, err := time.LoadLocation(w.TimeZone)
	if err != nil {
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
		hour, minute, ok := parseAt(w.At)
		if !ok {
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
		if len(l) == 0 {
			w.recurring = &recurrence{loc: loc, hour: hour, minute: minute}
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
