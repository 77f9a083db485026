package bench

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/emulator"
)

// BenchmarkInit measures each function's cold start alone (exec → first
// GET /runtime/invocation/next), without the emulator or the end-to-end run:
//
//	go test -run '^$' -bench Init -benchtime 20x ./internal/bench/
//
// Each iteration is one cold start; median, min and max are reported in ms.
// The HealthCheck is measured at the end-to-end run's sizes, the other
// functions at the smallest (their init does not scale differently).
func BenchmarkInit(b *testing.B) {
	ctx := context.Background()
	root, err := emulator.ModuleRoot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, fn := range []struct {
		name  string
		sizes []int
	}{{"healthcheck", []int{10, 1000}}, {"status", []int{10}}, {"recovery", []int{10}}} {
		f, err := BuildInitFixture(ctx, root, b.TempDir(), fn.name, fn.sizes...)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range fn.sizes {
			b.Run(fmt.Sprintf("fn=%s/components=%d", fn.name, n), func(b *testing.B) {
				var ds []time.Duration
				for b.Loop() {
					d, err := f.Measure(ctx, n, 1)
					if err != nil {
						b.Fatal(err)
					}
					ds = append(ds, d...)
				}
				// ns/op would fold process start and teardown around each
				// run in; the init times are what is measured.
				b.ReportMetric(0, "ns/op")
				b.ReportMetric(MedianMs(ds), "median-ms")
				b.ReportMetric(float64(slices.Min(ds).Microseconds())/1000, "min-ms")
				b.ReportMetric(float64(slices.Max(ds).Microseconds())/1000, "max-ms")
			})
		}
	}
}

// The report prints one init line per size right after the init table.
func TestPrintInitLines(t *testing.T) {
	r := &Report{Stacks: []StackResult{{Size: 10, InitMs: 38.24}, {Size: 1000, InitMs: 47.9}}}
	var b strings.Builder
	r.Print(&b)
	out := b.String()
	want := "init: 10 components 38.2 ms\ninit: 1000 components 47.9 ms\n"
	if !strings.Contains(out, want) {
		t.Fatalf("report lacks\n%s\ngot:\n%s", want, out)
	}
	if n := strings.Count(out, "\ninit: "); n != 2 {
		t.Errorf("%d init lines, want 2", n)
	}
	if strings.Index(out, "== Bootstrap process") > strings.Index(out, want) {
		t.Error("init lines printed before the init table")
	}
}

// Each function links only the service packages it uses: every one linked
// costs package-init time (its schemas) at each cold start. The clients
// go.mod holds at their pre-schemas releases must stay there: an upgrade
// that brings their generated schemas back adds ~16 ms to every cold start.
func TestFunctionsLinkOnlyTheirServices(t *testing.T) {
	root, err := emulator.ModuleRoot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	heldWithoutSchemas := []string{"dynamodb", "lambda", "secretsmanager", "sns", "ssm"}
	unused := map[string][]string{
		// The HealthCheck invokes itself (shards) and the home (regions).
		"healthcheck": {"cloudformation", "sqs"},
		"recovery":    {"cloudwatch"},
		"status":      {"cloudwatch", "lambda", "secretsmanager", "sfn", "sns"},
	}
	for fn, services := range unused {
		cmd := exec.Command("go", "list", "-deps", "./functions/"+fn)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", fn, err)
		}
		deps := strings.Fields(string(out))
		for _, s := range services {
			if slices.Contains(deps, "github.com/aws/aws-sdk-go-v2/service/"+s) {
				t.Errorf("%s links the %s service package", fn, s)
			}
		}
		for _, s := range heldWithoutSchemas {
			if pkg := "github.com/aws/aws-sdk-go-v2/service/" + s + "/schemas"; slices.Contains(deps, pkg) {
				t.Errorf("%s links %s: go.mod holds %s at its last release without generated schemas (see the comment there)", fn, pkg, s)
			}
		}
	}
}
