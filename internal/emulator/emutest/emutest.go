// Package emutest gives each test binary its one moto server (one emulator
// per test binary: a start costs seconds, and tests of one package share it
// through their own tables, topics and names).
package emutest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/emulator"
)

// Shared is a test binary's moto server: the first test that asks starts it,
// Main stops it after the tests. Declare one per package:
//
//	var moto = &emutest.Shared{}
//
//	func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }
type Shared struct {
	Options emulator.MotoOptions
	// Setup runs once on the started server, before any test uses it
	// (e.g. executing state machines, fixtures every test reads).
	Setup func(ctx context.Context, m *emulator.Moto) error

	once sync.Once
	moto *emulator.Moto
	err  error
}

// startTimeout bounds the start and Setup together.
const startTimeout = 90 * time.Second

// Get returns the server, starting it on first use. A server that cannot
// start fails t: AWS code is tested against the emulator or not at all, so a
// missing moto_server is never green.
func (s *Shared) Get(t testing.TB) *emulator.Moto {
	t.Helper()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		s.moto, s.err = emulator.StartMoto(ctx, s.Options)
		if s.err == nil && s.Setup != nil {
			if err := s.Setup(ctx, s.moto); err != nil {
				s.err = fmt.Errorf("set up: %w", err)
			}
		}
	})
	if s.err != nil {
		t.Fatalf("the AWS emulator (moto): %v", s.err)
	}
	return s.moto
}

// Main runs the tests and stops the server if a test started it; TestMain
// passes its result to os.Exit.
func (s *Shared) Main(m *testing.M) int {
	code := m.Run()
	s.moto.Stop()
	return code
}
