package config

import (
	"encoding/json"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// MaxRegions bounds the probing regions a quorum may count on.
const MaxRegions = 16

// Quorum is how many of the regions that reported a tick must see a
// component failing before it counts as failing: a strict majority of them
// (the zero value, written "majority") or at least N. With one region both
// mean "that region", so a single-region stack behaves as if there were no
// quorum at all.
type Quorum struct {
	// N is the fixed number of regions; 0 means a majority.
	N int
}

// Majority reports whether the quorum is a majority of the reporting regions.
func (q Quorum) Majority() bool { return q.N == 0 }

// Reached reports whether failing regions out of observers (regions that
// observed the component, checker-side faults excluded) make a quorum.
func (q Quorum) Reached(failing, observers int) bool {
	if failing <= 0 || failing > observers {
		return false
	}
	if q.Majority() {
		return 2*failing > observers
	}
	return failing >= q.N
}

// String is the document's spelling.
func (q Quorum) String() string {
	if q.Majority() {
		return "majority"
	}
	return strconv.Itoa(q.N)
}

// UnmarshalYAML accepts "majority" or a whole number from 1 to MaxRegions.
func (q *Quorum) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: quorum must be \"majority\" or a number of regions", n.Line)}}
	}
	v, err := parseQuorum(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*q = v
	return nil
}

// MarshalYAML writes the document's spelling.
func (q Quorum) MarshalYAML() (any, error) {
	if q.Majority() {
		return "majority", nil
	}
	return q.N, nil
}

// MarshalJSON writes "majority" or the number.
func (q Quorum) MarshalJSON() ([]byte, error) {
	if q.Majority() {
		return []byte(`"majority"`), nil
	}
	return []byte(strconv.Itoa(q.N)), nil
}

// UnmarshalJSON reads "majority" or a number.
func (q *Quorum) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		s = string(b)
	}
	v, err := parseQuorum(s)
	if err != nil {
		return err
	}
	*q = v
	return nil
}

func parseQuorum(s string) (Quorum, error) {
	if s == "majority" {
		return Quorum{}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxRegions {
		return Quorum{}, fmt.Errorf("quorum %q: want \"majority\" or a number of regions from 1 to %d", s, MaxRegions)
	}
	return Quorum{N: n}, nil
}
