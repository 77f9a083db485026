package config

import (
	"strings"
	"testing"
)

// The document is decoded once: the weight as written (or not) comes out of
// the same strict decode, wherever the component is written.
func TestWeightAsWritten(t *testing.T) {
	const tcp = "type: tcp\ntarget: 'db.example.com:5432'\n"
	y := withComponent(tcp+"weight: 0\n", "") +
		"      - {name: flow-zero, type: tcp, target: 'db.example.com:5432', weight: 0}\n" +
		comp("tilde", tcp+"weight: ~\n") +
		comp("half", tcp+"weight: 0.5\n") +
		comp("absent", tcp) +
		"controls:\n  - {name: ctl, type: tcp, target: 'db.example.com:5432', weight: 0}\n"
	doc, err := Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	wantWeights(t, doc, map[string]float64{"orchestrator": 0, "flow-zero": 0, "tilde": 1, "half": 0.5, "absent": 1})
}

// wantWeights checks the first integration's component weights by name and
// the first control's explicit weight 0.
func wantWeights(t *testing.T, doc *Document, want map[string]float64) {
	t.Helper()
	for _, c := range doc.Integrations[0].Components {
		if c.Weight != want[c.Name] {
			t.Errorf("component %s: weight %v, want %v", c.Name, c.Weight, want[c.Name])
		}
	}
	if w := doc.Controls[0].Weight; w != 0 {
		t.Errorf("control with explicit weight 0: weight %v", w)
	}
}

// A weight of the wrong type is refused by the decoder as before, with the
// line and the component, alongside an unknown field.
func TestWeightDecodeErrors(t *testing.T) {
	_, err := Parse([]byte(withComponent(okHTTP+"weight: heavy\ncolour: red\n", "")))
	for _, want := range []string{
		`integration "bridge": component "orchestrator": line 7: cannot unmarshal !!str ` + "`heavy`" + ` into float64`,
		`integration "bridge": component "orchestrator": line 8: field colour not found in type config.Component`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want %q", err, want)
		}
	}
}

// A component built in Go keeps its weight; only a zero one is defaulted,
// since no document wrote it.
func TestWeightOfComponentBuiltInGo(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{{0, DefaultWeight}, {2, 2}} {
		c := Component{Name: "db", Type: TypeTCP, Target: "db.example.com:5432", Weight: tc.in}
		if err := c.ValidateAndSetDefaults(); err != nil {
			t.Fatal(err)
		}
		if c.Weight != tc.want {
			t.Errorf("weight %v became %v, want %v", tc.in, c.Weight, tc.want)
		}
	}
}
