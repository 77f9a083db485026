package bench

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a CloudFormation template decoded far enough to count what it
// bills every month: alarm metrics and customer managed KMS keys.
type Template struct {
	params     map[string]string // parameter defaults
	conditions map[string]*yaml.Node
	resources  *yaml.Node // mapping of logical id → resource
}

// Billable is what one template creates that costs money every month.
type Billable struct {
	Alarms       int
	AlarmMetrics int // an alarm bills per metric it reads; expressions are free
	KMSKeys      int
	// Nested stacks (AWS::Serverless::Application, AWS::CloudFormation::Stack)
	// with the parameters the parent passes that could be resolved.
	Nested []Nested
}

// Nested is a nested stack of a template.
type Nested struct {
	LogicalID string
	Location  string
	Params    map[string]string
}

// ParseTemplate decodes a CloudFormation or SAM template, short-form
// intrinsic functions (!Ref, !Equals, ...) included.
func ParseTemplate(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("bench: decode template: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("bench: template is not a mapping")
	}
	root := doc.Content[0]
	t := &Template{params: map[string]string{}, conditions: map[string]*yaml.Node{}}
	if ps := lookup(root, "Parameters"); ps != nil {
		for i := 0; i+1 < len(ps.Content); i += 2 {
			def := ""
			if d := lookup(ps.Content[i+1], "Default"); d != nil && d.Kind == yaml.ScalarNode {
				def = d.Value
			}
			t.params[ps.Content[i].Value] = def
		}
	}
	if cs := lookup(root, "Conditions"); cs != nil {
		for i := 0; i+1 < len(cs.Content); i += 2 {
			t.conditions[cs.Content[i].Value] = cs.Content[i+1]
		}
	}
	t.resources = lookup(root, "Resources")
	if t.resources == nil || t.resources.Kind != yaml.MappingNode {
		return nil, errors.New("bench: template has no Resources mapping")
	}
	return t, nil
}

// Count evaluates the template's conditions with its parameter defaults
// overridden by params and counts the billable resources that would be
// created.
func (t *Template) Count(params map[string]string) (Billable, error) {
	ev := &evaluator{t: t, params: map[string]string{}, memo: map[string]bool{}}
	for k, v := range t.params {
		ev.params[k] = v
	}
	for k, v := range params {
		ev.params[k] = v
	}
	var b Billable
	for i := 0; i+1 < len(t.resources.Content); i += 2 {
		id, res := t.resources.Content[i].Value, t.resources.Content[i+1]
		if c := lookup(res, "Condition"); c != nil {
			ok, err := ev.condition(c.Value)
			if err != nil {
				return b, fmt.Errorf("bench: resource %s: %w", id, err)
			}
			if !ok {
				continue
			}
		}
		typ := ""
		if n := lookup(res, "Type"); n != nil {
			typ = n.Value
		}
		props := lookup(res, "Properties")
		switch typ {
		case "AWS::CloudWatch::Alarm":
			b.Alarms++
			b.AlarmMetrics += alarmMetrics(props)
		case "AWS::KMS::Key":
			b.KMSKeys++
		case "AWS::Serverless::Application", "AWS::CloudFormation::Stack":
			n := Nested{LogicalID: id, Params: map[string]string{}}
			if loc := lookup(props, "Location"); loc != nil && loc.Kind == yaml.ScalarNode {
				n.Location = loc.Value
			} else if url := lookup(props, "TemplateURL"); url != nil && url.Kind == yaml.ScalarNode {
				n.Location = url.Value
			}
			if ps := lookup(props, "Parameters"); ps != nil {
				for j := 0; j+1 < len(ps.Content); j += 2 {
					if v, err := ev.value(ps.Content[j+1]); err == nil {
						n.Params[ps.Content[j].Value] = v
					}
				}
			}
			b.Nested = append(b.Nested, n)
		}
	}
	return b, nil
}

// alarmMetrics is the number of metrics an alarm reads: 1 for a plain
// MetricName alarm, else one per MetricStat in Metrics.
func alarmMetrics(props *yaml.Node) int {
	if lookup(props, "MetricName") != nil {
		return 1
	}
	n := 0
	if ms := lookup(props, "Metrics"); ms != nil {
		for _, m := range ms.Content {
			if lookup(m, "MetricStat") != nil {
				n++
			}
		}
	}
	return n
}

type evaluator struct {
	t      *Template
	params map[string]string
	memo   map[string]bool
	active []string // conditions being evaluated, to refuse cycles
}

func (e *evaluator) condition(name string) (bool, error) {
	if v, ok := e.memo[name]; ok {
		return v, nil
	}
	node, ok := e.t.conditions[name]
	if !ok {
		return false, fmt.Errorf("unknown condition %q", name)
	}
	for _, a := range e.active {
		if a == name {
			return false, fmt.Errorf("condition %q refers to itself", name)
		}
	}
	e.active = append(e.active, name)
	v, err := e.boolean(node)
	e.active = e.active[:len(e.active)-1]
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	e.memo[name] = v
	return v, nil
}

// fn splits an intrinsic function into its name (without "!" or "Fn::") and
// argument, for both the short tag form and the long mapping form.
func fn(n *yaml.Node) (string, *yaml.Node) {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return strings.TrimPrefix(n.Tag, "!"), n
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return strings.TrimPrefix(k, "Fn::"), n.Content[1]
		}
	}
	return "", n
}

func (e *evaluator) boolean(n *yaml.Node) (bool, error) {
	name, arg := fn(n)
	switch name {
	case "Equals":
		if len(arg.Content) != 2 {
			return false, errors.New("Fn::Equals needs two arguments")
		}
		a, err := e.value(arg.Content[0])
		if err != nil {
			return false, err
		}
		b, err := e.value(arg.Content[1])
		return a == b, err
	case "Not":
		if len(arg.Content) != 1 {
			return false, errors.New("Fn::Not needs one argument")
		}
		v, err := e.boolean(arg.Content[0])
		return !v, err
	case "And", "Or":
		all := name == "And"
		for _, c := range arg.Content {
			v, err := e.boolean(c)
			if err != nil {
				return false, err
			}
			if v != all {
				return v, nil
			}
		}
		return all, nil
	case "Condition":
		return e.condition(arg.Value)
	}
	return false, fmt.Errorf("unsupported condition function %q", name)
}

func (e *evaluator) value(n *yaml.Node) (string, error) {
	name, arg := fn(n)
	switch name {
	case "":
		if n.Kind != yaml.ScalarNode {
			return "", errors.New("not a scalar")
		}
		return n.Value, nil
	case "Ref":
		v, ok := e.params[arg.Value]
		if !ok {
			return "", fmt.Errorf("reference %s is not a parameter", arg.Value)
		}
		return v, nil
	case "Join":
		if len(arg.Content) != 2 {
			return "", errors.New("Fn::Join needs a delimiter and a list")
		}
		delim := arg.Content[0].Value
		list := arg.Content[1]
		if ln, _ := fn(list); ln == "Ref" {
			// A CommaDelimitedList parameter: its value is the list.
			v, err := e.value(list)
			return strings.ReplaceAll(v, ",", delim), err
		}
		var parts []string
		for _, c := range list.Content {
			v, err := e.value(c)
			if err != nil {
				return "", err
			}
			parts = append(parts, v)
		}
		return strings.Join(parts, delim), nil
	}
	return "", fmt.Errorf("unsupported function %q", name)
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
