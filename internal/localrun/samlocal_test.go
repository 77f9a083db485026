package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/check"
	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/report"
)

// The README's `sam local invoke` steps, without Docker: moto started
// apart, `vigil-local setup` against it, the demo bridge served apart, and
// each real bootstrap under the Runtime Interface Emulator with exactly
// the variables events/env.json gives its function — the endpoint aside,
// which is the host's moto here rather than host.docker.internal — and
// the AWS ones SAM sets itself.
func TestSetupServesEnvJSON(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := emulator.ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	moto, err := emulator.StartMoto(ctx, emulator.MotoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer moto.Stop()

	// The bridge on loopback stands in for the one SAM's container
	// reaches at host.docker.internal:8765.
	bctx, stopBridge := context.WithCancel(ctx)
	ready, served := make(chan net.Addr, 1), make(chan error, 1)
	go func() { served <- ServeBridge(bctx, "127.0.0.1:0", func(a net.Addr) { ready <- a }) }()
	var bridge string
	select {
	case a := <-ready:
		bridge = a.String()
	case err := <-served:
		t.Fatal(err)
	}
	defer func() {
		stopBridge()
		if err := <-served; err != nil {
			t.Errorf("bridge: %v", err)
		}
	}()

	res, err := Setup(ctx, SetupOptions{Endpoint: moto.Endpoint, Bridge: bridge})
	if err != nil {
		t.Fatal(err)
	}
	// Again, as a newcomer might: what exists is kept.
	if again, err := Setup(ctx, SetupOptions{Endpoint: moto.Endpoint, Bridge: bridge}); err != nil || again != res {
		t.Fatalf("second setup: %+v, %v; want %+v", again, err, res)
	}
	env := readEnvJSON(t, root)
	for name, got := range map[string]string{
		"VIGIL_TABLE": res.Table, "VIGIL_WARNING_TOPIC_ARN": res.WarningTopicARN,
		"VIGIL_CRITICAL_TOPIC_ARN": res.CriticalTopicARN, "VIGIL_STATE_MACHINE_ARN": res.StateMachineARN,
	} {
		if want := env["HealthCheckFunction"][name]; got != want {
			t.Errorf("setup made %s %q, env.json names %q", name, got, want)
		}
	}
	param, err := awsenv.New(moto.AWSConfig()).SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(env["StatusFunction"]["VIGIL_CONFIG_PARAMETER"])})
	if err != nil || !strings.Contains(aws.ToString(param.Parameter.Value), "http://"+bridge+"/health/orchestrator") || strings.Contains(aws.ToString(param.Parameter.Value), "127.0.0.1:8765") {
		t.Fatalf("config parameter: %v; want the document naming the bridge at %s", err, bridge)
	}

	rie, bins, err := emulator.Build(ctx, t.TempDir(), "healthcheck", "recovery", "status")
	if err != nil {
		t.Fatal(err)
	}
	invoke := func(fn, logicalID, event string) []byte {
		t.Helper()
		vars := []string{ // what SAM sets itself
			"AWS_REGION=" + emulator.Region, "AWS_DEFAULT_REGION=" + emulator.Region,
			"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		}
		for k, v := range env[logicalID] {
			if k == sdkEndpoint {
				v = moto.Endpoint
			}
			vars = append(vars, k+"="+v)
		}
		f, err := emulator.StartFunction(ctx, emulator.FunctionOptions{Name: "vigil-" + fn, RIE: rie, Bootstrap: bins[fn], Env: vars})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Stop()
		ev, err := os.ReadFile(filepath.Join(root, "events", event))
		if err != nil {
			t.Fatal(err)
		}
		out, err := f.Invoke(ctx, ev)
		if err != nil {
			t.Fatalf("%s: %v\n%s", fn, err, f.Log())
		}
		if bytes.Contains(out, []byte(`"errorType"`)) && !strings.HasPrefix(fn, "recovery") {
			t.Fatalf("%s answered %s\n%s", fn, out, f.Log())
		}
		return out
	}

	var r check.Result
	if out := invoke("healthcheck", "HealthCheckFunction", "healthcheck-scheduler.json"); json.Unmarshal(out, &r) != nil ||
		len(r.Integrations) != 1 || r.Integrations[0].Outcome != "applied" || r.Integrations[0].State != health.Initializing {
		t.Fatalf("healthcheck answered %s", out)
	}
	for _, c := range r.Integrations[0].Components {
		if c.Side == "checker" || strings.Contains(c.Error, "connect") {
			t.Errorf("component %s did not reach the bridge: %s", c.Name, c.Error)
		}
	}

	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	var rep report.Report
	if out := invoke("status", "StatusFunction", "status-all.json"); json.Unmarshal(out, &resp) != nil || resp.StatusCode != 200 ||
		json.Unmarshal([]byte(resp.Body), &rep) != nil || len(rep.Integrations) != 1 || rep.Integrations[0].Counters.HealthChecksPerformed != 1 {
		t.Fatalf("status answered %s", out)
	}

	// The sample attempt names an incident that is not current: the
	// function started and refused it by name.
	if out := invoke("recovery", "RecoveryFunction", "recovery-attempt.json"); !bytes.Contains(out, []byte("agent-bridge-1795000000")) {
		t.Fatalf("recovery answered %s", out)
	}
}
