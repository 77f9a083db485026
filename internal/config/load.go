package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Parse decodes a YAML document strictly, fills defaults and validates it.
// An unknown field is refused with its line; a document with any invalid
// field is refused as a whole with every problem listed, one per line, each
// naming the integration, component and field.
func Parse(data []byte) (*Document, error) {
	doc, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return doc, nil
}

// ParseNamed is Parse for a document read from source (a file path, "SSM
// parameter /vigil/config"): its errors read "config: <source>: ...", so a
// document's errors name where it came from whoever read it (LoadFile here,
// lambdaenv's SSM source).
func ParseNamed(source string, data []byte) (*Document, error) {
	doc, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", source, err)
	}
	return doc, nil
}

// parse is Parse without the package prefix, which Parse and ParseNamed add.
func parse(data []byte) (*Document, error) {
	doc, err := decode(data)
	if err != nil {
		return nil, err
	}
	if err := doc.ValidateAndSetDefaults(); err != nil {
		return nil, fmt.Errorf("invalid document, %d problem(s):\n%w", countProblems(err), err)
	}
	return doc, nil
}

// decode parses the document once, strictly. An explicit "weight: 0" is
// told from no weight in this same pass (see Component.writtenWeight): a
// second parse only for that would double the cold start's config time.
//
// A JSON document (the compiled form that `sam build` bundles, or JSON
// written by a tool) is read by encoding/json, about three times faster
// than the YAML parser: at 1,000 components that is most of a cold
// start. JSON is YAML, so when the JSON reading fails the YAML decoder
// reads the same bytes and reports the problem with its line and the
// integration and component it is in.
func decode(data []byte) (*Document, error) {
	if doc, ok := decodeJSON(data); ok {
		return doc, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("empty document: %w", ErrNoIntegrations)
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, locateTypeErrors(data, te)
		}
		return nil, fmt.Errorf("decode: %w", err)
	}
	// A second document in the stream would be silently ignored otherwise.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode: more than one YAML document in the stream")
	}
	return &doc, nil
}

// decodeJSON reads data as one JSON object into a Document, refusing
// unknown fields and trailing data; ok is false when data is not such a
// document, which decode then hands to the YAML decoder. Unlike YAML,
// encoding/json matches keys case-insensitively and keeps the last of a
// repeated key; a compiled document has neither.
func decodeJSON(data []byte) (*Document, bool) {
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return &doc, true
}

// Compile is the document as the functions load it fastest: validated,
// defaults filled, as one line of JSON. Parse reads it back to the same
// document; `vigil-local compile` writes it for `sam build`.
func Compile(doc *Document) ([]byte, error) {
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("config: compile: %w", err)
	}
	return append(data, '\n'), nil
}

// LoadFile reads and parses the document at path (see Parse).
func LoadFile(path string) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: load: %w", err)
	}
	return ParseNamed(path, data)
}

// Key identifies the integration in state records, metrics and execution
// names: its name, unique within a document.
func (in Integration) Key() string { return in.Name }

// Select returns the integrations named, in document order; no names selects
// all. Unknown names are an error wrapping ErrUnknownIntegration that lists
// them, so a mistyped schedule input fails loudly instead of checking nothing.
func (d *Document) Select(names []string) ([]Integration, error) {
	if len(names) == 0 {
		return d.Integrations, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []Integration
	for _, in := range d.Integrations {
		if want[in.Name] {
			out = append(out, in)
			delete(want, in.Name)
		}
	}
	if len(want) > 0 {
		return nil, fmt.Errorf("config: select: %w: %s", ErrUnknownIntegration, boundedList(sortedKeys(want)))
	}
	return out, nil
}

// locateTypeErrors names the integration and component of each decode error
// (an unknown field, a value of the wrong type), which yaml reports by line
// only, so the message reads like the validation errors.
func locateTypeErrors(data []byte, te *yaml.TypeError) error {
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	lines := make([]string, 0, len(te.Errors))
	for _, msg := range te.Errors {
		var line int
		if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
			if where := locate(&root, line); where != "" {
				msg = where + ": " + msg
			}
		}
		lines = append(lines, " "+msg)
	}
	return fmt.Errorf("decode: %d problem(s):\n%s", len(lines), strings.Join(lines, "\n"))
}

// locate returns `integration "a": component "b"` for the items of the
// integrations and components lists that contain line.
func locate(n *yaml.Node, line int) string {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return locate(n.Content[0], line)
	}
	var parts []string
	for _, level := range []struct{ key, label string }{{"integrations", "integration"}, {"components", "component"}} {
		item := containing(listItems(n, level.key), line)
		if item == nil {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %q", level.label, mappingValue(item, "name")))
		n = item
	}
	return strings.Join(parts, ": ")
}

func listItems(m *yaml.Node, key string) []*yaml.Node {
	for i := 0; m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.SequenceNode {
			return m.Content[i+1].Content
		}
	}
	return nil
}

// containing returns the item whose lines span line: the last item that
// starts at or before it.
func containing(items []*yaml.Node, line int) *yaml.Node {
	var found *yaml.Node
	for _, it := range items {
		if it.Line <= line {
			found = it
		}
	}
	return found
}

func mappingValue(m *yaml.Node, key string) string {
	for i := 0; m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1].Value
		}
	}
	return ""
}
