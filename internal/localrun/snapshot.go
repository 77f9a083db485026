package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/store"
)

// ErrNoSnapshot means no local run has been recorded yet.
var ErrNoSnapshot = errors.New("no local run recorded yet: run `make run` first")

// SaveSnapshot writes every stored record to path, so that `make status` can
// report on a run after its emulator is gone.
func (s *Stack) SaveSnapshot(ctx context.Context, path string) error {
	recs, err := store.New(s.Clients.DynamoDB, TableName).List(ctx)
	if err != nil {
		return fmt.Errorf("localrun: snapshot: %w", err)
	}
	b, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// LoadSnapshot writes the records saved by SaveSnapshot into this stack's
// table, through the same store code the functions use.
func (s *Stack) LoadSnapshot(ctx context.Context, path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, ErrNoSnapshot
	}
	if err != nil {
		return 0, err
	}
	var recs []health.Record
	if err := json.Unmarshal(b, &recs); err != nil {
		return 0, fmt.Errorf("localrun: snapshot %s: %w", path, err)
	}
	st := store.New(s.Clients.DynamoDB, TableName)
	for _, r := range recs {
		if _, err := st.Update(ctx, r.Integration, func(health.Record) (health.Record, bool, error) { return r, true, nil }); err != nil {
			return 0, fmt.Errorf("localrun: load snapshot: %w", err)
		}
	}
	return len(recs), nil
}

// StatusReport asks the Status function for the Markdown health report of
// all integrations, through a function URL request as AWS would send it.
func (s *Stack) StatusReport(ctx context.Context) (string, error) {
	req := events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: "/", RawQueryString: "format=markdown",
		QueryStringParameters: map[string]string{"format": "markdown"},
		RequestContext:        events.LambdaFunctionURLRequestContext{HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "GET", Path: "/"}},
	}
	ev, _ := json.Marshal(req)
	out, err := s.Invoke(ctx, Status, ev)
	if err != nil {
		return "", err
	}
	var resp events.LambdaFunctionURLResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		return "", fmt.Errorf("localrun: status answered %s", out)
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("localrun: status answered %d: %s", resp.StatusCode, resp.Body)
	}
	return resp.Body, nil
}
