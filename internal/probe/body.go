package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
)

// evaluateBody runs the assertions and extracts the metrics from an HTTP
// body. It returns one reason per failure and the metrics it could read.
// The body is decoded as JSON once, and only if a json_path needs it.
// Values quoted from the body are bounded; when the request carried secret
// headers none is quoted at all: the reason says the value differed, not
// what it was.
func evaluateBody(body []byte, assertions []config.Assertion, metrics []config.ExtractedMetric, secret http.Header) ([]string, map[string]float64) {
	var (
		reasons []string
		doc     any
		decoded bool
		jsonBad bool
	)
	// lookup reports the value at path; when the body is not JSON it says
	// so once, rather than once per json_path.
	lookup := func(path string) (v any, found, ok bool) {
		if !decoded {
			decoded = true
			if err := json.Unmarshal(body, &doc); err != nil {
				jsonBad = true
				reasons = append(reasons, "body is not valid JSON: "+bound.Text(err.Error(), bound.Value))
			}
		}
		if jsonBad {
			return nil, false, false
		}
		v, found = jsonPath(doc, path)
		return v, found, true
	}

	for _, a := range assertions {
		switch {
		case a.JSONPath != "":
			v, found, ok := lookup(a.JSONPath)
			switch {
			case !ok:
			case !found:
				reasons = append(reasons, fmt.Sprintf("json_path %q not found", a.JSONPath))
			case a.Equals != nil && !isScalar(v):
				reasons = append(reasons, fmt.Sprintf("json_path %q is %s, want %q", a.JSONPath, kind(v), *a.Equals))
			case a.Equals != nil && render(v) != *a.Equals && len(secret) > 0:
				reasons = append(reasons, fmt.Sprintf("json_path %q differs from %q (value %s)", a.JSONPath, *a.Equals, withheld))
			case a.Equals != nil && render(v) != *a.Equals:
				reasons = append(reasons, fmt.Sprintf("json_path %q is %s, want %q", a.JSONPath, bound.Quote(render(v)), *a.Equals))
			}
		case a.Contains != "":
			if !bytes.Contains(body, []byte(a.Contains)) {
				reasons = append(reasons, fmt.Sprintf("body does not contain %q", a.Contains))
			}
		case a.Regex != "":
			re, err := regexp.Compile(a.Regex)
			if err != nil {
				reasons = append(reasons, fmt.Sprintf("invalid regex %q: %s", a.Regex, err))
			} else if !re.Match(body) {
				reasons = append(reasons, fmt.Sprintf("body does not match regex %q", a.Regex))
			}
		}
	}

	var values map[string]float64
	for _, m := range metrics {
		v, found, ok := lookup(m.JSONPath)
		if !ok {
			continue
		}
		if !found {
			reasons = append(reasons, fmt.Sprintf("metric %s: json_path %q not found", m.Name, m.JSONPath))
			continue
		}
		f, isNum := v.(float64)
		if !isNum {
			reasons = append(reasons, fmt.Sprintf("metric %s: json_path %q is %s, not a number", m.Name, m.JSONPath, kind(v)))
			continue
		}
		if values == nil {
			values = make(map[string]float64, len(metrics))
		}
		values[m.Name] = f
	}
	return reasons, values
}

// jsonPath walks a dotted path through decoded JSON: a segment names an
// object key, or indexes an array when the value there is an array
// ("checks.0.ok"). Keys that contain dots cannot be addressed. The empty
// path is the whole document.
func jsonPath(doc any, path string) (any, bool) {
	if path == "" {
		return doc, true
	}
	for seg := range strings.SplitSeq(path, ".") {
		switch v := doc.(type) {
		case map[string]any:
			next, ok := v[seg]
			if !ok {
				return nil, false
			}
			doc = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			doc = v[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

// render writes a scalar JSON value as the text `equals` compares against:
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
