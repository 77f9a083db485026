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
//
// once as written (YAML) and once compiled (what `sam build` bundles).
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{10, 1000} {
		data := benchDocument(n)
		doc, err := Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		compiled, err := Compile(doc)
		if err != nil {
			b.Fatal(err)
		}
		for _, form := range []struct {
			name string
			data []byte
		}{{"yaml", data}, {"compiled", compiled}} {
			b.Run(fmt.Sprintf("components=%d/%s", n, form.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Parse(form.data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
