package config

import (
	"fmt"
	"strings"
	"testing"
)

// benchDocument is a document of n http components shaped like the
// end-to-end benchmark's: integrations of at most MaxComponents.
func benchDocument(n int) []byte {
	var b strings.Builder
	b.WriteString("integrations:\n")
	for k := 0; k < n; k++ {
		if k%MaxComponents == 0 {
			fmt.Fprintf(&b, "  - name: i%03d\n    components:\n", k/MaxComponents)
		}
		fmt.Fprintf(&b, "      - name: c%04d\n        type: http\n        target: http://127.0.0.1:9/delay/5?c=%d\n        timeout: 2s\n        allow_loopback: true\n", k, k)
	}
	return []byte(b.String())
}

// BenchmarkParse measures what a cold start spends on the document:
//
//	go test -run '^$' -bench Parse -benchmem ./internal/config/
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{10, 1000} {
		data := benchDocument(n)
		b.Run(fmt.Sprintf("components=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
