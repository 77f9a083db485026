package config

import (
	"os/exec"
	"strings"
	"testing"
)

// TestConfigLinksNoAWSSDK keeps config the document alone: parsing and
// validating link no AWS SDK package, so every package that reads the
// document (the health model among them) stays free of it. Reading the
// document from SSM is lambdaenv's.
func TestConfigLinksNoAWSSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		if strings.HasPrefix(dep, "github.com/aws/") {
			t.Errorf("config links %s", dep)
		}
	}
}
