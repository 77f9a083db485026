package emutest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vigil-monitor/vigil/internal/emulator"
)

var moto = &Shared{}

func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }

// fatalRecorder is a testing.TB that records Fatalf instead of stopping.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
}

// One server for the binary, started once; a failed Setup fails every
// caller, and the server it started is still stopped by Main.
func TestShared(t *testing.T) {
	a, b := moto.Get(t), moto.Get(t)
	if a == nil || a != b || a.Endpoint == "" {
		t.Fatalf("two Gets: %p, %p", a, b)
	}
	calls := 0
	broken := &Shared{Setup: func(context.Context, *emulator.Moto) error { calls++; return errors.New("no fixtures") }}
	defer func() { broken.moto.Stop() }()
	for range 2 {
		rec := &fatalRecorder{}
		broken.Get(rec)
		if !strings.Contains(rec.msg, "set up: no fixtures") {
			t.Errorf("Get after a failed Setup: %q", rec.msg)
		}
	}
	if calls != 1 {
		t.Errorf("Setup ran %d times", calls)
	}
}
