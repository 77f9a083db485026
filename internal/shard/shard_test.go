package shard

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
)

// integ is an integration of n components with the given timeout.
func integ(name string, n int, timeout time.Duration) config.Integration {
	in := config.Integration{Name: name, Components: make([]config.Component, n)}
	for i := range in.Components {
		in.Components[i] = config.Component{Name: fmt.Sprintf("c%d", i), Type: config.TypeHTTP, Timeout: config.Duration(timeout)}
	}
	return in
}

// uniform is count integrations of size components each, named i000, i001…
func uniform(count, size int) []config.Integration {
	out := make([]config.Integration, count)
	for i := range out {
		out[i] = integ(fmt.Sprintf("i%03d", i), size, time.Duration(1+i%7)*time.Second)
	}
	return out
}

func TestCapacity(t *testing.T) {
	tests := []struct {
		memoryMB, concurrency, want int
	}{
		{256, 256, 256},                        // CPU allows 761: one wave of 256
		{128, 256, 256},                        // CPU allows 380
		{64, 256, 190},                         // 64/1769 vCPU × 1 s / 190 µs = 190.4
		{1, 256, 2},                            // 2.97
		{1769, 10000, 5263},                    // one vCPU: 1 s / 190 µs = 5263.2
		{10240, 100000, 30466},                 // Lambda's largest
		{512, 1, 1},                            // concurrency bounds
		{0, 0, 256},                            // defaults 256 MB, 256 probes
		{-5, -1, 256},                          // likewise
		{0, 1000, 761},                         // default memory: CPU bounds
		{math.MaxInt, 300, 300},                // no overflow
		{math.MaxInt, math.MaxInt, 3194614334}, // memory clamped to 2^30 MB
	}
	for _, tt := range tests {
		if got := Capacity(tt.memoryMB, tt.concurrency); got != tt.want {
			t.Errorf("Capacity(%d, %d) = %d, want %d", tt.memoryMB, tt.concurrency, got, tt.want)
		}
	}
}

// checkPlan asserts what every plan must hold.
func checkPlan(t *testing.T, integs []config.Integration, capacity int, plan []Shard) {
	t.Helper()
	capacity = max(capacity, 1)
	byName := map[string]int{}
	for i, in := range integs {
		byName[in.Name] = i
	}
	seen := map[string]bool{}
	total, minLoad, maxLoad, largest := 0, math.MaxInt, 0, 0
	for i, s := range plan {
		if want := (Key{i, len(plan)}); s.Key != want {
			t.Errorf("shard %d: key %v, want %v", i, s.Key, want)
		}
		if len(s.Integrations) == 0 {
			t.Errorf("shard %v is empty", s.Key)
		}
		comps, worst, last := 0, time.Duration(0), -1
		for _, name := range s.Integrations {
			d, ok := byName[name]
			if !ok || seen[name] {
				t.Errorf("shard %v: %q unknown or already placed", s.Key, name)
				continue
			}
			seen[name] = true
			if d < last {
				t.Errorf("shard %v: %v not in document order", s.Key, s.Integrations)
			}
			last = d
			comps += len(integs[d].Components)
			for _, c := range integs[d].Components {
				worst = max(worst, c.Timeout.D())
			}
		}
		if s.Components != comps || s.WorstTimeout != worst {
			t.Errorf("shard %v: components %d worst %v, want %d %v", s.Key, s.Components, s.WorstTimeout, comps, worst)
		}
		total += comps
		if comps > capacity {
			if len(s.Integrations) != 1 {
				t.Errorf("shard %v: %d components over capacity %d in %d integrations", s.Key, comps, capacity, len(s.Integrations))
			}
			continue // oversize shards are outside the balance
		}
		minLoad, maxLoad = min(minLoad, comps), max(maxLoad, comps)
		for _, name := range s.Integrations {
			largest = max(largest, len(integs[byName[name]].Components))
		}
	}
	if len(seen) != len(integs) {
		t.Errorf("%d of %d integrations placed", len(seen), len(integs))
	}
	want := 0
	for _, in := range integs {
		want += len(in.Components)
	}
	if total != want {
		t.Errorf("components %d, want %d", total, want)
	}
	if maxLoad > 0 && maxLoad-minLoad > largest {
		t.Errorf("unbalanced: loads %d..%d, largest integration %d", minLoad, maxLoad, largest)
	}
}

func TestPlan(t *testing.T) {
	mixed := []config.Integration{}
	for i := range 60 {
		mixed = append(mixed, integ(fmt.Sprintf("m%02d", i), 1+(i*37)%50, time.Duration(1+i%9)*time.Second))
	}
	tests := []struct {
		name     string
		integs   []config.Integration
		capacity int
		shards   int
		loads    []int // each shard's components, when checked
	}{
		{"empty", nil, 256, 0, nil},
		{"single small doc", []config.Integration{integ("b", 2, time.Second), integ("a", 3, time.Second), integ("c", 1, time.Second)}, 256, 1, []int{6}},
		// 10,000 components: 40 shards would do by count, but 6 integrations
		// of 40 (240) fill a shard of 256, and 250/6 needs 42.
		{"10000 components", uniform(250, 40), 256, 42, nil},
		{"exact fit", uniform(8, 32), 256, 1, []int{256}},
		{"one over", uniform(9, 32), 256, 2, []int{128, 160}},
		{"oversize alone", []config.Integration{integ("a", 10, time.Second), integ("big", 300, time.Second), integ("c", 20, time.Second), integ("d", 5, time.Second)}, 100, 2, []int{300, 35}},
		{"all oversize", []config.Integration{integ("a", 3, time.Second), integ("b", 4, time.Second)}, 2, 2, []int{4, 3}},
		{"zero components", []config.Integration{integ("empty", 0, 0), integ("big", 5, time.Second), integ("x", 0, 0)}, 2, 2, []int{5, 0}},
		{"capacity 0 is 1", uniform(3, 1), 0, 3, []int{1, 1, 1}},
		{"mixed sizes", mixed, 100, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Plan(tt.integs, tt.capacity)
			checkPlan(t, tt.integs, tt.capacity, plan)
			if tt.shards > 0 && len(plan) != tt.shards || tt.integs == nil && plan != nil {
				t.Errorf("%d shards, want %d", len(plan), tt.shards)
			}
			if tt.loads != nil {
				var loads []int
				for _, s := range plan {
					loads = append(loads, s.Components)
				}
				if !slices.Equal(loads, tt.loads) {
					t.Errorf("loads %v, want %v", loads, tt.loads)
				}
			}
		})
	}
}

func TestPlanOversizeIntegrationAlone(t *testing.T) {
	integs := []config.Integration{integ("a", 10, time.Second), integ("big", 300, 3*time.Second), integ("c", 20, time.Second)}
	plan := Plan(integs, 100)
	if len(plan) != 2 || !slices.Equal(plan[0].Integrations, []string{"big"}) || !slices.Equal(plan[1].Integrations, []string{"a", "c"}) {
		t.Fatalf("plan %+v, want [big] [a c]", plan)
	}
	if plan[0].WorstTimeout != 3*time.Second || plan[1].WorstTimeout != time.Second {
		t.Errorf("worst timeouts %v %v", plan[0].WorstTimeout, plan[1].WorstTimeout)
	}
}

// TestPlanSpreadsSlowIntegrations: placed in name order, a and c would fill
// shard 0 (the one with the faster worst timeout) and both slow integrations
// would share shard 1.
func TestPlanSpreadsSlowIntegrations(t *testing.T) {
	integs := []config.Integration{
		integ("a-fast", 5, time.Second), integ("b-slow", 5, 30*time.Second),
		integ("c-fast", 5, time.Second), integ("d-slow", 5, 30*time.Second),
	}
	plan := Plan(integs, 10)
	if len(plan) != 2 {
		t.Fatalf("%d shards, want 2", len(plan))
	}
	for _, s := range plan {
		slow := 0
		for _, name := range s.Integrations {
			if strings.HasSuffix(name, "slow") {
				slow++
			}
		}
		if slow != 1 {
			t.Errorf("shard %v: %v, want one slow integration", s.Key, s.Integrations)
		}
	}
}

func TestPlanDeterministic(t *testing.T) {
	integs := uniform(250, 40)
	for i := range integs {
		integs[i] = integ(integs[i].Name, 1+(i*13)%60, time.Duration(1+i%5)*time.Second)
	}
	before := slices.Clone(integs)
	first := Plan(integs, 256)
	if !reflect.DeepEqual(first, Plan(integs, 256)) {
		t.Fatal("two plans of the same document differ")
	}
	if !reflect.DeepEqual(before, integs) {
		t.Fatal("Plan changed its input")
	}
	// Integration names are unique, so even another order of the document
	// puts every integration in the same shard.
	shuffled := slices.Clone(integs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	where := func(plan []Shard) map[string]Key {
		m := map[string]Key{}
		for _, s := range plan {
			for _, name := range s.Integrations {
				m[name] = s.Key
			}
		}
		return m
	}
	if !reflect.DeepEqual(where(first), where(Plan(shuffled, 256))) {
		t.Error("a reordered document is planned differently")
	}
}

func TestKey(t *testing.T) {
	for _, k := range []Key{{0, 1}, {2, 3}, {999, 1000}} {
		got, err := ParseKey(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKey(%q) = %v, %v", k.String(), got, err)
		}
	}
	if s := (Key{0, 3}).String(); s != "0/3" {
		t.Errorf("String = %q, want 0/3", s)
	}
	for _, s := range []string{"", "0", "0/", "/3", "a/3", "0/3/1", "01/3", "+0/3", " 0/3", "0/ 3", "0x1/3", "-1/3", "3/3", "0/0", "0/1001"} {
		if k, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) = %v, want an error", s, k)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
			t.Errorf("ParseKey(%q): error %q does not name the value", s, err)
		}
	}
}

func TestKeyValidate(t *testing.T) {
	tests := []struct {
		key  Key
		want string // substring of the error; "" for valid
	}{
		{Key{0, 1}, ""},
		{Key{999, 1000}, ""},
		{Key{0, 0}, "shard count 0 out of range 1..1000"},
		{Key{0, 1001}, "shard count 1001 out of range"},
		{Key{-1, 3}, "shard index -1 out of range 0..2"},
		{Key{3, 3}, "shard index 3 out of range 0..2"},
	}
	for _, tt := range tests {
		err := tt.key.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%v.Validate() = %v, want %q", tt.key, err, tt.want)
		}
	}
}

func BenchmarkPlan10000(b *testing.B) {
	integs := uniform(250, 40) // 10,000 components
	b.ReportAllocs()
	for b.Loop() {
		Plan(integs, 256)
	}
}
