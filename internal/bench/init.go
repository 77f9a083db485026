package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/vigil-monitor/vigil/internal/emulator"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
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
