package store

import (
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// BenchmarkUpdate is one steady-state check's write of one integration
// against moto: a strongly consistent read and a conditional write. It
// reports the DynamoDB requests per update (SPEC §9: at most 2).
func BenchmarkUpdate(b *testing.B) {
	client := dynamodb.NewFromConfig(moto.Get(b).AWSConfig())
	table := "vigil-bench-update-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := CreateTable(b.Context(), client, table); err != nil {
		b.Fatal(err)
	}
	c := &counting{ItemAPI: client}
	s := New(c, table)
	ctx := b.Context()
	if _, err := s.Update(ctx, "bench", bump); err != nil {
		b.Fatal(err)
	}
	before := c.requests()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Update(ctx, "bench", bump); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.requests()-before)/float64(b.N), "requests/op")
}
