// Package shard splits the integration document into shards: the
// integrations one HealthCheck invocation checks (issue 13). One invocation
// has one sandbox's CPU, so a document too large for it is checked by
// several invocations at once, and the tick takes about as long as the
// slowest probe instead of growing with the document.
//
// The package is pure: the coordinator plans, and every region that loads
// the same document gets the same plan, so a shard's key names the same
// integrations everywhere.
package shard

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
)

// MaxShards bounds a plan: each shard is one concurrent Lambda invocation,
// and a key from an event or a table item beyond it is refused.
const MaxShards = 1000

// Key identifies one shard of a plan of Count shards. The count is part of
// the key because shard i of a 3-shard plan and shard i of a 4-shard plan
// check different integrations: a heartbeat or an observation is only
// comparable with those of the same plan.
type Key struct{ Index, Count int }

// String writes the key as "i/n", e.g. "0/3", as events and table items
// carry it.
func (k Key) String() string { return strconv.Itoa(k.Index) + "/" + strconv.Itoa(k.Count) }

// ParseKey reads a key written by String. It refuses any other spelling
// ("01/3", "+0/3", " 0/3") and any key Validate refuses, so one shard has
// one text and a table item's sort key names it exactly once.
func ParseKey(s string) (Key, error) {
	is, ns, ok := strings.Cut(s, "/")
	i, iok := atoi(is)
	n, nok := atoi(ns)
	if !ok || !iok || !nok {
		return Key{}, fmt.Errorf("shard key %q: want index/count, e.g. \"0/3\"", s)
	}
	k := Key{Index: i, Count: n}
	if err := k.Validate(); err != nil {
		return Key{}, fmt.Errorf("shard key %q: %w", s, err)
	}
	return k, nil
}

// atoi parses a decimal written as strconv.Itoa writes it, and nothing else.
func atoi(s string) (int, bool) {
	v, err := strconv.Atoi(s)
	return v, err == nil && strconv.Itoa(v) == s
}

// Validate checks 0 <= Index < Count <= MaxShards: a key outside its plan
// would check nothing, or write a heartbeat no coordinator waits for.
func (k Key) Validate() error {
	switch {
	case k.Count < 1 || k.Count > MaxShards:
		return fmt.Errorf("shard count %d out of range 1..%d", k.Count, MaxShards)
	case k.Index < 0 || k.Index >= k.Count:
		return fmt.Errorf("shard index %d out of range 0..%d", k.Index, k.Count-1)
	}
	return nil
}

// Shard is one shard of a plan: the integrations one HealthCheck invocation
// checks.
type Shard struct {
	Key Key
	// Integrations are names, in the document's order, so a shard checks
	// and reports its integrations as an unsharded check would.
	Integrations []string
	// Components is the number of probes the shard runs.
	Components int
	// WorstTimeout is the longest component timeout in the shard: the
	// longest the shard may wait for a target, which the coordinator's
	// budget for the shard must cover.
	WorstTimeout time.Duration
}

// CPUPerProbe is the CPU one probe costs, measured by make bench (~190 µs
// per HTTP probe; the bare Go client costs the same, so it is the floor).
const CPUPerProbe = 190 * time.Microsecond

// vCPUMemoryMB is the memory that buys one vCPU: Lambda gives one vCPU per
// 1,769 MB of memory, proportionally below.
const vCPUMemoryMB = 1769

// ShardWall is the CPU wall budget a shard's probes may take beyond waiting
// for targets: the goal is a tick wall of at most the slowest probe + 1 s.
const ShardWall = time.Second

// The handler's defaults, used when Capacity is given none.
const (
	defaultConcurrency = 256
	defaultMemoryMB    = 256
	// maxMemoryMB keeps memoryMB*ShardWall within int64; it is far above
	// Lambda's 10,240 MB, where concurrency limits long before.
	maxMemoryMB = 1 << 30
)

// Capacity is the number of components one shard checks: as many as run in
// one wave of concurrency (a second wave would double the tick), and no
// more than the sandbox's share of a vCPU (memoryMB/1769) spends in
// ShardWall at CPUPerProbe each; at least 1. concurrency <= 0 means 256 and
// memoryMB <= 0 means 256, the handler's defaults.
func Capacity(memoryMB, concurrency int) int {
	if concurrency <= 0 {
		concurrency = defaultConcurrency
	}
	if memoryMB <= 0 {
		memoryMB = defaultMemoryMB
	}
	memoryMB = min(memoryMB, maxMemoryMB)
	cpu := int64(memoryMB) * int64(ShardWall) / (vCPUMemoryMB * int64(CPUPerProbe))
	return int(max(1, min(int64(concurrency), cpu)))
}

// item is one integration to place.
type item struct {
	doc        int // index in the document
	name       string
	components int
	worst      time.Duration
}

// bin is one shard being filled.
type bin struct {
	index int
	load  int
	worst time.Duration
	docs  []int // items' document indexes
}

// Plan splits integrations into the fewest shards of at most capacity
// components each that largest-first assignment finds, balanced by
// component count. An integration is never split (its state is judged from
// all its components at once): one larger than capacity gets a shard of its
// own. Among equal sizes, slow integrations are placed first and onto the
// shard with the fastest worst timeout, so they are spread over shards
// rather than making one shard slow; then by name. The plan depends only on
// the document, so every region gets the same one. capacity <= 0 is taken
// as 1; no integrations give no shards. A tiny capacity may give more than
// MaxShards shards: the caller refuses such a plan (Key.Validate).
func Plan(integs []config.Integration, capacity int) []Shard {
	if len(integs) == 0 {
		return nil
	}
	capacity = max(capacity, 1)
	items := make([]item, len(integs))
	oversize, rest := 0, 0
	for i, in := range integs {
		it := item{doc: i, name: in.Name, components: len(in.Components)}
		for _, c := range in.Components {
			it.worst = max(it.worst, c.Timeout.D())
		}
		items[i] = it
		if it.components > capacity {
			oversize++
		} else {
			rest += it.components
		}
	}
	slices.SortFunc(items, func(a, b item) int {
		return cmp.Or(cmp.Compare(b.components, a.components), cmp.Compare(b.worst, a.worst),
			strings.Compare(a.name, b.name), cmp.Compare(a.doc, b.doc))
	})
	// No plan has fewer shards than one per oversize integration plus the
	// rest packed full; from there, add a shard until the items fit (at the
	// latest one shard per item).
	var bins []*bin
	for n := max(1, oversize+(rest+capacity-1)/capacity); bins == nil; n++ {
		bins = assign(items, n, capacity)
	}
	slices.SortFunc(bins, func(a, b *bin) int { return cmp.Compare(a.index, b.index) })
	bins = slices.DeleteFunc(bins, func(b *bin) bool { return len(b.docs) == 0 })
	shards := make([]Shard, len(bins))
	for i, b := range bins {
		slices.Sort(b.docs)
		names := make([]string, len(b.docs))
		for j, d := range b.docs {
			names[j] = integs[d].Name
		}
		shards[i] = Shard{Key: Key{Index: i, Count: len(bins)}, Integrations: names,
			Components: b.load, WorstTimeout: b.worst}
	}
	return shards
}

// assign places items, largest first, each onto the least-loaded of n
// shards (longest-processing-time scheduling, which keeps loads within one
// item of each other), or returns nil when the least-loaded has no room. A
// shard with nothing in it always has room: that is where an oversize
// integration goes, and it is sorted first, so it goes alone.
func assign(items []item, n, capacity int) []*bin {
	h := make([]*bin, n) // a min-heap by less; ascending indexes are one
	for i := range h {
		h[i] = &bin{index: i}
	}
	for _, it := range items {
		b := h[0]
		if b.load > 0 && b.load+it.components > capacity {
			return nil
		}
		b.load += it.components
		b.worst = max(b.worst, it.worst)
		b.docs = append(b.docs, it.doc)
		siftDown(h, 0)
	}
	return h
}

// less orders shards for the next item: least load, then fastest worst
// timeout (spreading slow integrations), then index, so the plan is
// deterministic.
func less(a, b *bin) bool {
	return cmp.Or(cmp.Compare(a.load, b.load), cmp.Compare(a.worst, b.worst), cmp.Compare(a.index, b.index)) < 0
}

// siftDown restores the heap after h[i] grew.
func siftDown(h []*bin, i int) {
	for {
		m := 2*i + 1
		if m >= len(h) {
			return
		}
		if r := m + 1; r < len(h) && less(h[r], h[m]) {
			m = r
		}
		if !less(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
