package localrun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/demobridge"
	"github.com/vigil-monitor/vigil/internal/emulator"
)

// `sam local invoke --env-vars events/env.json` runs a function in a
// container against an emulator the user started: events/env.json names the
// resources Setup makes there, and the functions reach the emulator and the
// demo bridge on the host as host.docker.internal.
const (
	// SAMEnvFile is the --env-vars file of `sam local invoke`, from the
	// module's root.
	SAMEnvFile = "events/env.json"
	// ConfigParameter is the SSM parameter Setup writes the document to;
	// events/env.json points the functions at it (VIGIL_CONFIG_PARAMETER),
	// since the bundled vigil.yaml names the bridge on 127.0.0.1, which is
	// the container itself there.
	ConfigParameter = "/vigil-local/config"
	// ContainerBridge is the demo bridge (`vigil-local bridge`) as a
	// function in SAM's container reaches it.
	ContainerBridge = "host.docker.internal:8765"
	// DefaultEndpoint is where `moto_server -H 0.0.0.0 -p 5000` answers on
	// this machine.
	DefaultEndpoint = "http://127.0.0.1:5000"
)

// SetupOptions configure Setup.
type SetupOptions struct {
	// Endpoint is the emulator as this machine reaches it; default
	// DefaultEndpoint.
	Endpoint string
	// ConfigFile is the document written to ConfigParameter; default the
	// module's config/vigil.yaml.
	ConfigFile string
	// Bridge replaces the sample bridge address (127.0.0.1:8765) in the
	// document; default ContainerBridge.
	Bridge string
}

// Setup makes on a running emulator what template.yaml would and
// events/env.json names — the table, the two topics, the recovery state
// machine — and writes the configuration document to ConfigParameter. It may
// run again on the same emulator: what exists is kept, the document
// rewritten.
func Setup(ctx context.Context, o SetupOptions) (Resources, error) {
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	if o.Bridge == "" {
		o.Bridge = ContainerBridge
	}
	root, err := emulator.ModuleRoot(ctx)
	if err != nil {
		return Resources{}, err
	}
	text, err := document(root, o.ConfigFile, o.Bridge)
	if err != nil {
		return Resources{}, err
	}
	// A broken document would fail every function's cold start; say so now.
	if _, err := config.Parse([]byte(text)); err != nil {
		return Resources{}, err
	}
	c := awsenv.New(aws.Config{
		Region:           emulator.Region,
		Credentials:      credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint:     aws.String(o.Endpoint),
		RetryMaxAttempts: 2,
	})
	r, err := provision(ctx, c, root)
	if err != nil {
		return r, fmt.Errorf("%w (is the emulator running at %s?)", err, o.Endpoint)
	}
	in := &ssm.PutParameterInput{
		Name: aws.String(ConfigParameter), Value: aws.String(text),
		Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
	}
	if len(text) > 4096 { // a standard parameter's limit
		in.Tier = ssmtypes.ParameterTierAdvanced
	}
	if _, err := c.SSM.PutParameter(ctx, in); err != nil {
		return r, fmt.Errorf("localrun: write config parameter %s: %w", ConfigParameter, err)
	}
	return r, nil
}

// ServeBridge serves a demo bridge on addr (e.g. 0.0.0.0:8765, so that a
// function in a container reaches it) until ctx ends. ready, when not nil,
// is called with the address listened on.
func ServeBridge(ctx context.Context, addr string, ready func(net.Addr)) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("localrun: listen for bridge: %w", err)
	}
	b := demobridge.New(demobridge.Options{})
	defer b.Close()
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		b.Close() // ends open WebSocket connections
		_ = srv.Shutdown(shut)
	})
	defer stop()
	if ready != nil {
		ready(l.Addr())
	}
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
