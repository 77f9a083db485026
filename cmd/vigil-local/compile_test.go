package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-monitor/vigil/internal/config"
)

// `compile` is what `sam build` and `make build` run: a valid document is
// written compiled, readable by Parse; a refused one fails with every
// problem named and writes nothing, so no bundle ships a bad document.
func TestCompile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "build", "vigil.json")
	if err := compile([]string{"-o", out, "../../config/vigil.yaml"}); err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := config.LoadFile("../../config/vigil.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := config.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, want) {
		t.Errorf("compile wrote\n%s\nwant\n%s", written, want)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("integrations:\n  - name: x\n    components:\n      - {name: a, type: tcp, target: '169.254.169.254:80', timeout: 90s}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused := filepath.Join(dir, "refused.json")
	err = compile([]string{"-o", refused, bad})
	for _, w := range []string{`component "a": field "timeout"`, `component "a": field "target"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v, want it to name %s", err, w)
		}
	}
	if _, statErr := os.Stat(refused); !os.IsNotExist(statErr) {
		t.Errorf("a refused document was written (stat: %v)", statErr)
	}
}
