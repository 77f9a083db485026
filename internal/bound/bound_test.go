package bound

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short", "connection refused", 64, "connection refused"},
		{"exact", strings.Repeat("a", 16), 16, strings.Repeat("a", 16)},
		{"cut", strings.Repeat("a", 100), 30, strings.Repeat("a", 15) + "…[+85 bytes]"},
		{"control characters", "a\x00b\nc\td\x7f", 64, "a b c\td "},
		{"invalid utf-8", "a\xffb", 64, "a\uFFFDb"},
		{"marker longer than max", strings.Repeat("a", 100), 4, "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.in, tt.max); got != tt.want {
				t.Fatalf("Text(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

// A cut never splits a rune and never exceeds max, whatever the input.
func TestTextBounds(t *testing.T) {
	inputs := []string{
		strings.Repeat("é", 1000),
		strings.Repeat("日本語", 500),
		strings.Repeat("\xff", 3000),
		strings.Repeat(`"\<`, 400_000/3),
	}
	for _, in := range inputs {
		for _, max := range []int{20, 64, 512, 2048} {
			got := Text(in, max)
			if len(got) > max {
				t.Fatalf("len %d > max %d", len(got), max)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("invalid UTF-8: %q", got)
			}
			if len(clean(in)) > max && !strings.Contains(got, "bytes]") {
				t.Fatalf("no cut marker in %q", got)
			}
		}
	}
}

func FuzzText(f *testing.F) {
	f.Add("hello", 10)
	f.Add(strings.Repeat("日", 100), 17)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		got := Text(s, max)
		if len(got) > max && len(clean(s)) > max {
			t.Fatalf("len %d > max %d", len(got), max)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q", got)
		}
	})
}
