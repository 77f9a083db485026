package emulator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RIEPackage is the Runtime Interface Emulator, pinned in go.mod as a tool.
const RIEPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// invokePath is the only invoke path the Runtime Interface Emulator serves.
const invokePath = "/2015-03-31/functions/function/invocations"

// Function is a function binary running under the Runtime Interface Emulator.
type Function struct {
	Name string
	// URL is the invoke URL.
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
	// RIE handles one invocation at a time, like one Lambda sandbox.
	mu  sync.Mutex
	log *SyncBuffer
}

// FunctionOptions describe a function to start.
type FunctionOptions struct {
	Name      string   // AWS_LAMBDA_FUNCTION_NAME
	RIE       string   // path of the aws-lambda-rie binary
	Bootstrap string   // path of the function's bootstrap binary
	Env       []string // extra environment, e.g. Moto.Env() and the function's settings
	Timeout   time.Duration
	// Log receives the emulator's and the function's output; nil keeps it
	// in memory (see Function.Log).
	Log io.Writer
}

// StartFunction starts RIE on a free loopback port with the bootstrap and
// waits until it accepts connections. The caller must Stop it.
func StartFunction(ctx context.Context, o FunctionOptions) (*Function, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	f := &Function{Name: o.Name, URL: fmt.Sprintf("http://127.0.0.1:%d%s", port, invokePath), done: make(chan struct{}), log: &SyncBuffer{}}
	f.cmd = exec.Command(o.RIE,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		o.Bootstrap)
	f.cmd.Env = append(LambdaEnv(),
		"AWS_LAMBDA_FUNCTION_NAME="+o.Name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int(timeout.Seconds())),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"LAMBDA_TASK_ROOT="+filepath.Dir(o.Bootstrap),
	)
	f.cmd.Env = append(f.cmd.Env, o.Env...)
	f.cmd.Dir = filepath.Dir(o.Bootstrap)
	var out io.Writer = f.log
	if o.Log != nil {
		out = io.MultiWriter(f.log, o.Log)
	}
	f.cmd.Stdout, f.cmd.Stderr = out, out
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := f.cmd.Start(); err != nil {
		return nil, fmt.Errorf("emulator: start %s under RIE: %w", o.Name, err)
	}
	go func() { _ = f.cmd.Wait(); close(f.done) }()
	if err := waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/", port), f.done, 30*time.Second); err != nil {
		f.Stop()
		return nil, fmt.Errorf("emulator: %s under RIE did not come up: %w (log: %s)", o.Name, err, f.log.String())
	}
	return f, nil
}

// Invoke sends one event and returns the function's response payload. A
// function error (the runtime's errorType/errorMessage document) is returned
// as the payload with isError true, as Lambda reports it.
func (f *Function) Invoke(ctx context.Context, event []byte) (payload []byte, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.invoke(ctx, event)
}

// TryInvoke is Invoke when the function is idle. When an invocation is
// under way it sends nothing and returns at once with ok false, so a caller
// holding several instances of a function (a pool of sandboxes) can pick an
// idle one.
func (f *Function) TryInvoke(ctx context.Context, event []byte) (payload []byte, ok bool, err error) {
	if !f.mu.TryLock() {
		return nil, false, nil
	}
	defer f.mu.Unlock()
	payload, err = f.invoke(ctx, event)
	return payload, true, err
}

// invoke sends one event; the caller holds f.mu.
func (f *Function) invoke(ctx context.Context, event []byte) (payload []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("emulator: invoke %s: %w", f.Name, err)
	}
	defer resp.Body.Close()
	payload, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("emulator: read %s response: %w", f.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return payload, fmt.Errorf("emulator: invoke %s: status %d: %s", f.Name, resp.StatusCode, payload)
	}
	return payload, nil
}

// Log returns what the emulator and the function printed so far.
func (f *Function) Log() string { return f.log.String() }

// Stop ends the emulator and the function.
func (f *Function) Stop() {
	if f != nil {
		stopGroup(f.cmd, f.done)
	}
}

// LambdaEnv is the base environment of a function process, as the Lambda
// runtime sets it, rather than this machine's: a developer's or CI's
// variables (AWS_PROFILE, AWS_CA_BUNDLE, proxies) must not change what the
// function does, nor how long its cold start takes — the SDK reads and parses
// the whole CA bundle at start-up when AWS_CA_BUNDLE is set.
func LambdaEnv() []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin",
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
	}
}

// ModuleRoot returns the directory holding go.mod, found with `go env GOMOD`.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("emulator: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("emulator: not inside the Vigil module")
	}
	return filepath.Dir(gomod), nil
}

// Build compiles the Runtime Interface Emulator and the named functions
// (folders under functions/) into dir, as Lambda would run them: dir/rie and
// dir/<name>/bootstrap, built for this machine with the Lambda build flags.
func Build(ctx context.Context, dir string, functions ...string) (rie string, bootstraps map[string]string, err error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", nil, err
	}
	rie = filepath.Join(dir, "aws-lambda-rie")
	if err := goBuild(ctx, root, rie, RIEPackage); err != nil {
		return "", nil, err
	}
	bootstraps = map[string]string{}
	for _, fn := range functions {
		out := filepath.Join(dir, fn, "bootstrap")
		if err := goBuild(ctx, root, out, "./functions/"+fn, "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"); err != nil {
			return "", nil, err
		}
		bootstraps[fn] = out
	}
	return rie, bootstraps, nil
}

func goBuild(ctx context.Context, root, out, pkg string, flags ...string) error {
	args := append([]string{"build", "-o", out}, flags...)
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("emulator: go build %s: %w: %s", pkg, err, b)
	}
	return nil
}

// SyncBuffer is a bytes.Buffer that several goroutines (a process's output
// copiers, concurrent handlers) may write at once and a test may read.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
