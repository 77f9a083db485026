package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
)

// evaluateBody runs the assertions and extracts the metrics from an HTTP
// body. It returns one reason per failure and the metrics it could read.
// The body is decoded as JSON once, and only if a json_path needs it.
// Paths and regexes come parsed from the config (see
// config.Assertion.Compiled). Values quoted from the body are bounded; when
// the request carried secret headers none is quoted at all: the reason says
// the value differed, not what it was.
func evaluateBody(body []byte, assertions []config.Assertion, metrics []config.ExtractedMetric, secret http.Header) ([]string, map[string]float64) {
	var (
		reasons []string
		doc     any
		decoded bool
		jsonBad bool
	)
	// lookup returns the values p selects; when the body is not JSON it
	// says so once, rather than once per json_path.
	lookup := func(p *config.Path) (vals []any, ok bool) {
		if !decoded {
			decoded = true
			if err := json.Unmarshal(body, &doc); err != nil {
				jsonBad = true
				reasons = append(reasons, "body is not valid JSON: "+bound.Text(err.Error(), bound.Value))
			}
		}
		if jsonBad {
			return nil, false
		}
		return p.Select(doc), true
	}

	for _, a := range assertions {
		c, err := a.Compiled()
		if err != nil {
			// Only an assertion that skipped config validation gets here.
			reasons = append(reasons, "invalid assertion: "+err.Error())
			continue
		}
		switch {
		case c.Path != nil:
			if vals, ok := lookup(c.Path); ok {
				if r := judge(c, vals, len(secret) > 0); r != "" {
					reasons = append(reasons, r)
				}
			}
		case a.Contains != "":
			if !bytes.Contains(body, []byte(a.Contains)) {
				reasons = append(reasons, fmt.Sprintf("body does not contain %q", a.Contains))
			}
		case c.Regexp != nil:
			if !c.Regexp.Match(body) {
				reasons = append(reasons, fmt.Sprintf("body does not match regex %q", a.Regex))
			}
		}
	}

	var values map[string]float64
	for _, m := range metrics {
		p, err := m.Path()
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("metric %s: invalid json_path: %s", m.Name, err))
			continue
		}
		vals, ok := lookup(p)
		switch {
		case !ok:
			continue
		case len(vals) == 0:
			reasons = append(reasons, fmt.Sprintf("metric %s: json_path %q not found", m.Name, p))
			continue
		case len(vals) > 1:
			reasons = append(reasons, fmt.Sprintf("metric %s: json_path %q selects %d values, want one", m.Name, p, len(vals)))
			continue
		}
		f, isNum := vals[0].(float64)
		if !isNum {
			reasons = append(reasons, fmt.Sprintf("metric %s: json_path %q is %s, not a number", m.Name, p, kind(vals[0])))
			continue
		}
		if values == nil {
			values = make(map[string]float64, len(metrics))
		}
		values[m.Name] = f
	}
	return reasons, values
}

// judge returns why the values a json_path selected fail c, or "" when the
// path selected something and every value passes. Of several failing
// values the reason words the first and counts them all.
func judge(c config.CompiledAssertion, vals []any, secret bool) string {
	if len(vals) == 0 {
		return fmt.Sprintf("json_path %q not found", c.Path)
	}
	if c.Op == "" {
		return ""
	}
	var (
		first  string
		failed int
	)
	for _, v := range vals {
		if r := judgeValue(c, v, secret); r != "" {
			if failed == 0 {
				first = r
			}
			failed++
		}
	}
	if failed == 0 || len(vals) == 1 {
		return first
	}
	return fmt.Sprintf("%s (%d of %d values)", first, failed, len(vals))
}

// judgeValue returns why v fails c, or "" when it passes. A value of the
// wrong kind is named by its kind, which says nothing secret; any other
// value is quoted, bounded, unless the request carried secrets.
func judgeValue(c config.CompiledAssertion, v any, secret bool) string {
	subject, what := v, ""
	if c.Length {
		n, ok := length(v)
		if !ok {
			return fmt.Sprintf("json_path %q is %s, want length %s", c.Path, kind(v), wanted(c))
		}
		subject, what = float64(n), "length "
	}
	pass, comparable := compare(subject, c.Op, c.Want)
	switch {
	case pass:
		return ""
	case !comparable:
		return fmt.Sprintf("json_path %q is %s, want %s", c.Path, kind(v), wanted(c))
	case secret:
		return fmt.Sprintf("json_path %q %s%s (value %s)", c.Path, what, unmet(c), withheld)
	case c.Length:
		return fmt.Sprintf("json_path %q has length %s, want %s", c.Path, render(subject), wanted(c))
	}
	return fmt.Sprintf("json_path %q is %s, want %s", c.Path, show(v), wanted(c))
}

// compare applies op to v and want. comparable is false when v is of a
// kind op cannot judge: not a number for an ordering, neither a string nor
// an array for contains, an object or array for "==".
func compare(v any, op string, want config.Operand) (pass, comparable bool) {
	switch op {
	case config.OpEqual:
		return isScalar(v) && equal(v, want), isScalar(v)
	case config.OpNotEqual:
		return !isScalar(v) || !equal(v, want), true
	case config.OpContains:
		switch v := v.(type) {
		case string:
			return strings.Contains(v, want.Text), true
		case []any:
			return slices.ContainsFunc(v, func(e any) bool { return isScalar(e) && equal(e, want) }), true
		}
		return false, false
	}
	f, ok := v.(float64)
	if !ok {
		return false, false
	}
	switch op {
	case config.OpLess:
		return f < want.Number, true
	case config.OpLessOrEqual:
		return f <= want.Number, true
	case config.OpGreater:
		return f > want.Number, true
	case config.OpGreaterOrEqual:
		return f >= want.Number, true
	}
	return false, false
}

// equal compares a scalar as numbers when both sides are numbers, else as
// text, the way equals always compared.
func equal(v any, want config.Operand) bool {
	if f, ok := v.(float64); ok && want.IsNumber {
		return f == want.Number
	}
	return render(v) == want.Text
}

// length is a string's characters, an array's elements or an object's
// members.
func length(v any) (int, bool) {
	switch v := v.(type) {
	case string:
		return utf8.RuneCountInString(v), true
	case []any:
		return len(v), true
	case map[string]any:
		return len(v), true
	}
	return 0, false
}

// wanted words what c asks for: `"up"` for "==", `> 0` otherwise.
func wanted(c config.CompiledAssertion) string {
	if c.Op == config.OpEqual {
		return c.Want.String()
	}
	return c.Op + " " + c.Want.String()
}

// unmet words a failed comparison without the value that failed it.
func unmet(c config.CompiledAssertion) string {
	switch c.Op {
	case config.OpEqual:
		return "differs from " + c.Want.String()
	case config.OpNotEqual:
		return "equals " + c.Want.String()
	case config.OpContains:
		return "does not contain " + c.Want.String()
	}
	return "is not " + wanted(c)
}

// show writes a value the target sent for a reason: a string quoted and
// bounded, other scalars as in JSON, objects and arrays by kind.
func show(v any) string {
	switch v := v.(type) {
	case string:
		return bound.Quote(v)
	case map[string]any, []any:
		return kind(v)
	}
	return render(v)
}

// render writes a scalar JSON value as the text "==" compares against:
// strings raw, numbers in shortest form, booleans and null as in JSON.
func render(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	return kind(v)
}

func isScalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

// kind names a JSON value's type for error messages. Objects and arrays are
// named, never printed, so a reason stays short.
func kind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}
