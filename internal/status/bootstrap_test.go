package status

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/report"
	"github.com/vigil-monitor/vigil/internal/store"
)

// TestBootstrap runs the real status binary under the Runtime Interface
// Emulator against moto, with the sample events from events/.
func TestBootstrap(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	rie, bins, err := emulator.Build(ctx, dir, "status")
	if err != nil {
		t.Fatal(err)
	}
	_, table := newTable(t)
	put(t, store.New(dynamodb.NewFromConfig(moto.Get(t).AWSConfig()), table), bridgeRecord())
	cfgFile := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(cfgFile, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	fn, err := emulator.StartFunction(ctx, emulator.FunctionOptions{
		Name: "status", RIE: rie, Bootstrap: bins["status"],
		Env: append(moto.Get(t).Env(), "VIGIL_TABLE="+table, "VIGIL_CONFIG_FILE="+cfgFile),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Stop()

	root, err := emulator.ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	invoke := func(t *testing.T, event string) events.LambdaFunctionURLResponse {
		t.Helper()
		in, err := os.ReadFile(filepath.Join(root, "events", event))
		if err != nil {
			t.Fatal(err)
		}
		out, err := fn.Invoke(ctx, in)
		if err != nil {
			t.Fatalf("%v\nlog:\n%s", err, fn.Log())
		}
		var resp events.LambdaFunctionURLResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("response %s: %v", out, err)
		}
		for _, s := range secretRefs {
			if strings.Contains(string(out), s) {
				t.Errorf("response contains %q", s)
			}
		}
		return resp
	}

	t.Run("all", func(t *testing.T) {
		resp := invoke(t, "status-all.json")
		if resp.StatusCode != 200 || resp.Headers["Content-Type"] != ContentJSON {
			t.Fatalf("got %d %v: %s\nlog:\n%s", resp.StatusCode, resp.Headers, resp.Body, fn.Log())
		}
		var rep report.Report
		if err := json.Unmarshal([]byte(resp.Body), &rep); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, in := range rep.Integrations {
			got = append(got, fmt.Sprintf("%s=%s", in.Name, in.State))
		}
		if strings.Join(got, " ") != "agent-bridge=FAILED payments=UNINITIALIZED" {
			t.Errorf("integrations = %v", got)
		}
		if rep.Integrations[0].Counters.HealthChecksPerformed != 121 {
			t.Errorf("agent-bridge counters = %+v", rep.Integrations[0].Counters)
		}
	})
	t.Run("markdown", func(t *testing.T) {
		resp := invoke(t, "status-markdown.json")
		if resp.StatusCode != 200 || resp.Headers["Content-Type"] != ContentMarkdown {
			t.Fatalf("got %d %v: %s", resp.StatusCode, resp.Headers, resp.Body)
		}
		for _, want := range []string{"# Integration health report", "## agent-bridge", "**Overall health: " + string(health.Failed) + "**", "| Status query | < 500 ms |"} {
			if !strings.Contains(resp.Body, want) {
				t.Errorf("report lacks %q:\n%s", want, resp.Body)
			}
		}
	})
	t.Run("bad parameter", func(t *testing.T) {
		resp := invoke(t, "status-bad-param.json")
		if want := `{"error":"format must be json or markdown, not \"xml\""}`; resp.StatusCode != 400 || strings.TrimSpace(resp.Body) != want {
			t.Errorf("got %d %s, want 400 %s", resp.StatusCode, resp.Body, want)
		}
	})
}
