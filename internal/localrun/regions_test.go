package localrun

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// The regions scenario through the real bootstraps: three regions of three
// HealthCheck instances each, two shards a tick, each region behind its own
// resolver. The scenario checks every step itself; here, that it ran to its
// end and told it.
func TestRegionsDemo(t *testing.T) {
	// Its own stack: it overlaps the other one that has its own.
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	began := time.Now()
	s, err := StartRegions(ctx, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, region := range s.Regions() {
				for _, name := range []string{HealthCheck, Recovery} {
					for i, f := range s.Instances(region, name) {
						t.Logf("%s in %s, instance %d, log:\n%s", name, region, i, f.Log())
					}
				}
			}
		}
		s.Stop()
	})
	started := time.Now()
	var out bytes.Buffer
	if err := s.RegionsDemo(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Logf("stack started in %s, scenario played in %s", started.Sub(began).Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
	text := out.String()
	for _, want := range []string{
		"2 shards of at most 4 components",
		"decided tick 1 · messaging INITIALIZING (1 failure), orchestration INITIALIZING (1 failure), registry INITIALIZING (1 failure)",
		"decided tick 2 · messaging ACTIVE, orchestration ACTIVE, registry ACTIVE",
		"waiting for ap-southeast-2",
		"eu-west-1       2 shards", "own checks find it impaired: dns failed for all 4 components of 2 integrations",
		"registry ACTIVE · eu-west-1 set aside",
		"notified once: region_impaired",
		"notified once: region_recovered",
		"decided tick 6 late",
		"tick 6, decided late from the views of eu-west-1 and us-east-1",
		"decided tick 7 late",
		"orchestration FAILED (3 failures)",
		"orchestration: recovery due, StartExecution",
		"orchestration FAILED (4 failures)",
		"Recovery executions on the state machine: 1",
		"12 ticks, 12 decisions, each once: 10 on time, 2 late (ticks 6, 7); regions set aside: eu-west-1 at ticks 3, 4; recovery executions: 1.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("narration lacks %q", want)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Log(text)
	}
}
