package config

import (
	"strings"
	"testing"
)

func TestQuorumParses(t *testing.T) {
	for _, tc := range []struct {
		line    string
		want    Quorum
		wantErr string
	}{
		{"", Quorum{}, ""},
		{"quorum: majority\n", Quorum{}, ""},
		{"quorum: 2\n", Quorum{N: 2}, ""},
		{"quorum: 0\n", Quorum{}, `quorum "0": want "majority" or a number of regions from 1 to 16`},
		{"quorum: 17\n", Quorum{}, `quorum "17"`},
		{"quorum: most\n", Quorum{}, `quorum "most"`},
		{"quorum: [1]\n", Quorum{}, "quorum must be"},
	} {
		doc, err := Parse([]byte(tc.line + withComponent(okHTTP, "")))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.line, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if doc.Quorum != tc.want {
			t.Errorf("%q: quorum %+v, want %+v", tc.line, doc.Quorum, tc.want)
		}
	}
}

func TestQuorumReached(t *testing.T) {
	for _, tc := range []struct {
		q                  Quorum
		failing, observers int
		want               bool
	}{
		{Quorum{}, 1, 1, true}, // one region: that region decides
		{Quorum{}, 0, 1, false},
		{Quorum{}, 1, 2, false}, // a tie is no majority
		{Quorum{}, 2, 2, true},
		{Quorum{}, 2, 3, true},
		{Quorum{}, 1, 3, false},
		{Quorum{N: 2}, 1, 1, false}, // fewer observers than the quorum
		{Quorum{N: 2}, 2, 3, true},
		{Quorum{N: 1}, 1, 3, true},
		{Quorum{}, 3, 2, false}, // more failing than observers is nonsense
	} {
		if got := tc.q.Reached(tc.failing, tc.observers); got != tc.want {
			t.Errorf("%v.Reached(%d, %d) = %v, want %v", tc.q, tc.failing, tc.observers, got, tc.want)
		}
	}
}
