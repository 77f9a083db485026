package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// manyComponents is a document whose one integration has n http components,
// each extracting metrics body metrics.
func manyComponents(n, metrics int) string {
	var b strings.Builder
	b.WriteString("integrations:\n  - name: big\n    components:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - {name: c%d, type: http, target: 'https://example.com/%d'", i, i)
		if i < metrics {
			fmt.Fprintf(&b, ", http: {metrics: [{name: M%d, json_path: m}]}", i)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// The item-size caps: components per integration and body metrics per
// integration, refused with the field named, the schema agreeing.
func TestComponentAndMetricCaps(t *testing.T) {
	sch := compileSchema(t)
	if _, err := Parse([]byte(manyComponents(MaxComponents, MaxMetrics))); err != nil {
		t.Fatalf("at the caps: %v", err)
	}
	if err := sch.Validate(yamlToJSON(t, []byte(manyComponents(MaxComponents, 0)))); err != nil {
		t.Fatalf("schema refuses %d components: %v", MaxComponents, err)
	}
	_, err := Parse([]byte(manyComponents(MaxComponents+1, 0)))
	if !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), `integration "big": field "components": at most 250 components`) {
		t.Fatalf("%d components: %v", MaxComponents+1, err)
	}
	if err := sch.Validate(yamlToJSON(t, []byte(manyComponents(MaxComponents+1, 0)))); err == nil {
		t.Fatal("schema accepts too many components")
	}
	_, err = Parse([]byte(manyComponents(MaxMetrics+1, MaxMetrics+1)))
	if !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), "at most 20 body metrics") {
		t.Fatalf("%d metrics: %v", MaxMetrics+1, err)
	}
}

// Controls are validated like components: a bad one refuses the document,
// named as a control.
func TestControls(t *testing.T) {
	ok := withComponent(okHTTP, "") + "controls:\n  - {name: aws, type: tcp, target: 'sts.amazonaws.com:443'}\n  - {name: web, type: http, target: 'https://example.com/'}\n"
	doc, err := Parse([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Controls) != 2 || doc.Controls[0].Timeout.D() != DefaultTimeout || !doc.Controls[1].IsCritical() {
		t.Fatalf("controls not defaulted: %+v", doc.Controls)
	}
	if err := compileSchema(t).Validate(yamlToJSON(t, []byte(ok))); err != nil {
		t.Fatalf("schema: %v", err)
	}
	for name, tc := range map[string]struct{ doc, want string }{
		"refused destination": {withComponent(okHTTP, "") + "controls:\n  - {name: imds, type: http, target: 'http://169.254.169.254/'}\n", `control "imds": field "target"`},
		"duplicate":           {withComponent(okHTTP, "") + "controls:\n  - {name: a, type: tcp, target: 'e.com:1'}\n  - {name: a, type: tcp, target: 'e.com:2'}\n", `control "a": field "name": duplicate name`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// A name a caller asks for that the document lacks is echoed bounded: a
// 100 KB name, or thousands of names, make a short error.
func TestSelectBoundsUnknownNames(t *testing.T) {
	doc, err := Parse([]byte(withComponent(okHTTP, "")))
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("x", 100_000)
	_, err = doc.Select([]string{huge})
	if !errors.Is(err, ErrUnknownIntegration) || len(err.Error()) > 200 || !strings.Contains(err.Error(), "bytes]") {
		t.Fatalf("err (%d bytes) = %.300s", len(err.Error()), err)
	}
	names := make([]string, 5000)
	for i := range names {
		names[i] = fmt.Sprintf("n%d", i)
	}
	_, err = doc.Select(names)
	if err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), "and 4995 more") {
		t.Fatalf("err (%d bytes) = %.300s", len(err.Error()), err)
	}
}

// A body metric cannot take the name of a dimension it is published with:
// in an EMF document the two would be one member.
func TestMetricNameNotADimension(t *testing.T) {
	for _, name := range []string{"Integration", "Component"} {
		doc := withComponent(okHTTP+"http:\n  metrics:\n    - {name: "+name+", json_path: m}\n", "")
		_, err := Parse([]byte(doc))
		if !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), `http.metrics[0].name`) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The availability objective defaults to the reference's 99.9 % and must
// leave an error budget.
func TestSLO(t *testing.T) {
	doc, err := Parse([]byte(withComponent(okHTTP, "")))
	if err != nil || doc.Integrations[0].SLO != DefaultSLO {
		t.Fatalf("default SLO: %v, %v", doc, err)
	}
	doc, err = Parse([]byte(withComponent(okHTTP, "slo: 99.95\n")))
	if err != nil || doc.Integrations[0].SLO != 99.95 {
		t.Fatalf("slo 99.95: %v", err)
	}
	sch := compileSchema(t)
	for _, bad := range []string{"slo: 100\n", "slo: 20\n", "slo: 101\n"} {
		d := withComponent(okHTTP, bad)
		if _, err := Parse([]byte(d)); !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), `field "slo"`) {
			t.Errorf("%s: %v", bad, err)
		}
		if err := sch.Validate(yamlToJSON(t, []byte(d))); err == nil {
			t.Errorf("schema accepts %s", bad)
		}
	}
}
