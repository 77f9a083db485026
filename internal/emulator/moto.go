// Package emulator starts and drives the local stand-ins for AWS used by
// `make run` and the tests: the moto server, and function binaries under the
// Lambda Runtime Interface Emulator. Everything listens on loopback only.
package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region every local client and resource uses.
const Region = "us-east-1"

// ErrMotoMissing means moto_server is not on PATH; `make deps` installs it.
var ErrMotoMissing = errors.New("moto_server not found on PATH (install with: pip install 'moto[server]', or run `make deps`)")

// Moto is a running moto_server process.
type Moto struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:40123.
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	// log holds the server's output when MotoOptions.Stdout is nil, for
	// StartMoto's error; read it only once done is closed.
	log bytes.Buffer
}

// MotoOptions tune StartMoto.
type MotoOptions struct {
	// LambdaGatewayPort, when not 0, is the loopback port moto's Step
	// Functions interpreter sends its service calls to instead of moto's own
	// (StartMoto sets MOTO_PORT to it, which moto reads for that). A gateway
	// listening there can then route Lambda invokes to real function
	// binaries under the runtime emulator (internal/localrun).
	LambdaGatewayPort int
	// Stdout receives the server's output, standard output and standard
	// error alike; nil keeps it in memory, where StartMoto's error quotes it
	// if the server does not come up.
	Stdout io.Writer
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("emulator: find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartMoto starts moto_server on a free loopback port and waits until it
// answers. The caller must Stop it.
func StartMoto(ctx context.Context, opts MotoOptions) (*Moto, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, ErrMotoMissing
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	m := &Moto{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{})}
	m.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	if py, err := exec.LookPath("python3"); err == nil {
		// One process: the script itself falls back to moto_server when this
		// python3 cannot import moto (a separate import probe cost ~3 s a start).
		m.cmd = exec.Command(py, "-c", serializedMoto, "127.0.0.1", strconv.Itoa(port), bin)
	}
	m.cmd.Env = os.Environ()
	if opts.LambdaGatewayPort != 0 {
		m.cmd.Env = append(m.cmd.Env, "MOTO_PORT="+strconv.Itoa(opts.LambdaGatewayPort))
	}
	out := io.Writer(&m.log)
	if opts.Stdout != nil {
		out = opts.Stdout
	}
	m.cmd.Stdout, m.cmd.Stderr = out, out
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("emulator: start moto_server: %w", err)
	}
	go func() { _ = m.cmd.Wait(); close(m.done) }()
	if err := waitHTTP(ctx, m.Endpoint+"/moto-api/", m.done, 60*time.Second); err != nil {
		m.Stop()
		return nil, fmt.Errorf("emulator: moto_server did not come up: %w (log: %s)", err, m.log.String())
	}
	return m, nil
}

// serializedMoto runs moto's server application with one request at a time.
// moto_server handles requests on parallel threads and applies a DynamoDB
// conditional write as a separate check and put, so two racing writers can
// both pass the check — a lost update real DynamoDB never allows (its
// conditional writes are atomic per item). Serializing requests restores that
// guarantee; moto runs under Python's global interpreter lock anyway, so
// little throughput is lost. Work moto does off the request path (Step
// Functions executions) still runs on its own threads.
//
// When this python3 cannot import moto (moto_server installed for another
// interpreter), the script replaces itself with the moto_server command
// given as its third argument: unserialized, but running.
const serializedMoto = `
import os, sys, threading
host, port, fallback = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    from werkzeug.serving import run_simple
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
except ImportError:
    os.execv(fallback, [fallback, "-H", host, "-p", str(port)])
os.environ.setdefault("MOTO_PORT", str(port))
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def serialized(environ, start_response):
    with lock:
        return list(app(environ, start_response))
run_simple(host, port, serialized, threaded=True)
`

// Stop ends the server and its children.
func (m *Moto) Stop() {
	if m != nil {
		stopGroup(m.cmd, m.done)
	}
}

// stopGroup ends a process started in its own group, and everything it
// started: SIGTERM, then SIGKILL after 5 s. done closes when it has exited.
func stopGroup(cmd *exec.Cmd, done <-chan struct{}) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// AWSConfig is an SDK configuration pointed at this server with dummy
// credentials.
func (m *Moto) AWSConfig() aws.Config {
	return aws.Config{
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint:     aws.String(m.Endpoint),
		RetryMaxAttempts: 2,
	}
}

// Env is the environment a function process needs to reach this server.
func (m *Moto) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + m.Endpoint,
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
	}
}

// EnableStepFunctions makes moto execute state machine definitions for real
// (Wait states wait) with its simple Lambda backend.
func (m *Moto) EnableStepFunctions(ctx context.Context) error {
	return m.post(ctx, "/moto-api/config", map[string]any{
		"stepfunctions": map[string]any{"execute_state_machine": true},
		"lambda":        map[string]any{"use_docker": false},
	})
}

// QueueLambdaResults queues results that moto's simple Lambda backend returns,
// in order, to the next Lambda invocations (Step Functions tasks included).
func (m *Moto) QueueLambdaResults(ctx context.Context, results ...string) error {
	return m.post(ctx, "/moto-api/static/lambda-simple/response", map[string]any{
		"results": results, "region": Region,
	})
}

// Reset drops every resource in the server.
func (m *Moto) Reset(ctx context.Context) error { return m.post(ctx, "/moto-api/reset", nil) }

func (m *Moto) post(ctx context.Context, path string, body any) error {
	var r io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Endpoint+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("emulator: POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("emulator: POST %s: status %d: %s", path, resp.StatusCode, b)
	}
	return nil
}

// waitHTTP polls url until it answers with any HTTP status.
func waitHTTP(ctx context.Context, url string, exited <-chan struct{}, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("process exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
