package health

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHealthLinksNoNetworkCode keeps the health model pure: it reads probe
// results from package outcome, and no import, direct or through config,
// may bring the probes, the guarded client or an HTTP stack back.
func TestHealthLinksNoNetworkCode(t *testing.T) {
	const module = "github.com/vigil-monitor/vigil/"
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		switch {
		case dep == "net/http", strings.HasPrefix(dep, "net/http/"),
			dep == module+"internal/probe", dep == module+"internal/netguard",
			strings.HasPrefix(dep, "github.com/coder/websocket"):
			t.Errorf("health links %s", dep)
		}
	}
}
