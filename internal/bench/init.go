package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/localrun"
)

// nextPath is the Lambda Runtime API request a runtime makes once its init
// is done.
const nextPath = "/2018-06-01/runtime/invocation/next"

// MeasureInit starts bootstrap runs times, each against a minimal Lambda
// Runtime API served here, and returns the time from exec to its first
// "next invocation" request: what Lambda reports as Init Duration. env is
// added to the process environment.
func MeasureInit(ctx context.Context, bootstrap string, env []string, runs int) ([]time.Duration, error) {
	var out []time.Duration
	for range runs {
		d, err := measureInitOnce(ctx, bootstrap, env)
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}

func measureInitOnce(ctx context.Context, bootstrap string, env []string) (time.Duration, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: listen for runtime API: %w", err)
	}
	ready := make(chan time.Time, 1)
	var mu sync.Mutex // guards initErr
	var initErr string
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == nextPath {
			select {
			case ready <- time.Now():
			default:
			}
			<-r.Context().Done()
			return
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		mu.Lock()
		initErr = r.URL.Path + ": " + b.String()
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	var log bytes.Buffer
	cmd := exec.Command(bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = append(emulator.LambdaEnv(), env...)
	cmd.Env = append(cmd.Env, "AWS_LAMBDA_RUNTIME_API="+l.Addr().String())
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	exited := make(chan struct{})
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("bench: start %s: %w", bootstrap, err)
	}
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}()
	select {
	case t := <-ready:
		return t.Sub(start), nil
	case <-exited:
		mu.Lock()
		defer mu.Unlock()
		return 0, fmt.Errorf("bench: %s exited during init: %s %s", bootstrap, initErr, log.String())
	case <-time.After(10 * time.Second):
		return 0, errors.New("bench: init did not finish within 10 s")
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// InitFixture is what measuring a function's init on its own needs: its
// bootstrap built as Lambda runs it (for this machine) and one config per
// size, no emulator. Init makes no AWS request when the document is a file,
// so the endpoint only has to be set, not to answer.
type InitFixture struct {
	Bootstrap string
	configs   map[int]string
}

// initEndpoint is a loopback address nothing answers on; setting it makes
// the SDK build its clients the emulated way, as the end-to-end run does.
const initEndpoint = "http://127.0.0.1:9"

// BuildInitFixture builds the bootstrap of function (a folder under
// functions/) from the module at root into dir, and writes a config per size
// holding both shapes of that size (Single and Many), as the end-to-end
// run's stack of that size does: its "1000 components" are 2,000 in the
// document.
func BuildInitFixture(ctx context.Context, root, dir, function string, sizes ...int) (*InitFixture, error) {
	f := &InitFixture{Bootstrap: filepath.Join(dir, function, "bootstrap"), configs: map[int]string{}}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", f.Bootstrap, "./functions/"+function)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("bench: build %s: %w: %s", function, err, out)
	}
	for _, n := range sizes {
		path := filepath.Join(dir, fmt.Sprintf("init-%d.json", n))
		text := ConfigYAML(initEndpoint, Single(fmt.Sprintf("s%d-one", n), n), Many(fmt.Sprintf("s%d-four", n), n))
		if err := localrun.WriteCompiled(path, text); err != nil {
			return nil, err
		}
		f.configs[n] = path
	}
	return f, nil
}

// Env is the environment the bootstrap is started with at size n, as the
// end-to-end run sets it, less the emulator's endpoint and resources.
func (f *InitFixture) Env(n int) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + initEndpoint,
		"AWS_REGION=" + emulator.Region,
		"AWS_DEFAULT_REGION=" + emulator.Region,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"VIGIL_TABLE=" + localrun.TableName,
		"VIGIL_WARNING_TOPIC_ARN=arn:aws:sns:" + emulator.Region + ":123456789012:vigil-warning",
		"VIGIL_CRITICAL_TOPIC_ARN=arn:aws:sns:" + emulator.Region + ":123456789012:vigil-critical",
		"VIGIL_STATE_MACHINE_ARN=arn:aws:states:" + emulator.Region + ":123456789012:stateMachine:vigil",
		"VIGIL_CONFIG_FILE=" + f.configs[n],
		"LOG_LEVEL=INFO",
		"AWS_LAMBDA_FUNCTION_NAME=vigil-" + filepath.Base(filepath.Dir(f.Bootstrap)),
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", memoryMB),
		"LAMBDA_TASK_ROOT=" + filepath.Dir(f.Bootstrap),
	}
}

// Measure measures the init at size n runs times (see MeasureInit).
func (f *InitFixture) Measure(ctx context.Context, n, runs int) ([]time.Duration, error) {
	return MeasureInit(ctx, f.Bootstrap, f.Env(n), runs)
}

// MedianMs is the median of ds in milliseconds, the upper one of an even
// count, as the end-to-end report quotes init times.
func MedianMs(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2].Microseconds()) / 1000
}
