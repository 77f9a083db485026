package session

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/vigil-monitor/vigil/internal/emulator"
)

// A client built from the session's Config counts its requests, and the
// config passed in is left without the counter.
func TestClientsCountRequests(t *testing.T) {
	ctx := context.Background()
	m, err := emulator.StartMoto(ctx, emulator.MotoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	cfg := m.AWSConfig()
	before := len(cfg.APIOptions)
	s := New(cfg)
	if len(cfg.APIOptions) != before {
		t.Fatal("New changed the caller's config")
	}
	if !Emulated(s.Config) {
		t.Fatal("emulator config not seen as emulated")
	}
	start := s.Requests.Snapshot()
	client := ssm.NewFromConfig(s.Config)
	for range 2 {
		// A missing parameter is an error, but still a request sent.
		_, _ = client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/vigil/none")})
	}
	if got := s.Requests.Since(start); got["SSM.GetParameter"] != 2 || len(got) != 1 {
		t.Fatalf("requests = %v, want SSM.GetParameter=2", got)
	}
	if got := New(cfg).Requests.Snapshot(); len(got) != 0 {
		t.Fatalf("a new session starts at %v", got)
	}
}
