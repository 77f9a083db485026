package execution

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/emulator/emutest"
)

// moto is one emulator for the package. Step Functions execution is left
// off: the starter's executions only need to exist (they stay RUNNING).
var moto = &emutest.Shared{}

func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }

var machines atomic.Int64

// ownRegion returns clients on the emulator (the name is kept from the
// recovery tests; no region separation is needed without executions running).
func ownRegion(t *testing.T) (*awsenv.Clients, string) {
	t.Helper()
	return awsenv.New(moto.Get(t).AWSConfig()), emulator.Region
}

func testRole(*testing.T) string { return "arn:aws:iam::123456789012:role/vigil-recovery-test" }

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
