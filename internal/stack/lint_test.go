package stack

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCfnLint lints the template offline: errors and warnings fail (a rule
// is only ever suppressed in the template, with its reason).
func TestCfnLint(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatalf("cfn-lint not found on PATH; `make deps` installs it (pip install cfn-lint)")
	}
	root := repoRoot(t)
	cmd := exec.Command(bin, "--format", "parseable", filepath.Join(root, "template.yaml"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		// cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational.
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
	if len(out) != 0 {
		t.Fatalf("cfn-lint printed findings:\n%s", out)
	}
}
