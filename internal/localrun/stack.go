// Package localrun assembles Vigil on one machine with no AWS account: moto
// for DynamoDB, CloudWatch, Step Functions and SNS; the real function
// binaries under the Lambda Runtime Interface Emulator; and the demo bridge as
// the monitored system. `make run` (cmd/vigil-local) drives it, and the
// end-to-end tests and benchmarks use it too.
package localrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/store"
)

// Names of the local resources; the account is moto's default.
const (
	Account          = "123456789012"
	TableName        = "vigil-local"
	HealthCheck      = "vigil-healthcheck"
	Recovery         = "vigil-recovery"
	Status           = "vigil-status"
	stateMachineName = "vigil-recovery"
)

// Options configure a local stack.
type Options struct {
	// Dir receives the built binaries, the rendered config and logs.
	Dir string
	// Functions to build and start, by folder name under functions/
	// (default all three).
	Functions []string
	// ConfigFile is the document the functions load; every 127.0.0.1:8765
	// in it (the sample config's bridge address) is rewritten to the
	// running bridge. Default: config/vigil.yaml of the module.
	ConfigFile string
	// Bridge is served on loopback and monitored; nil serves no bridge.
	Bridge http.Handler
	// Env is added to every function's environment.
	Env []string
	// Log receives the functions' and moto's output; nil writes them to
	// files in Dir.
	Log io.Writer
	// FunctionLog, when set, also receives each function's own log lines:
	// the JSON its bootstrap writes (log records and EMF metric documents),
	// and nothing else — moto's request log and the Runtime Interface
	// Emulator's lines go to Log (or the files in Dir) only.
	FunctionLog io.Writer
	// StackName, when set, is the functions' VIGIL_STACK_NAME: the
	// HealthCheck function then converges the document's alarms and
	// dashboard on moto, as in a deployed stack.
	StackName string
}

// Stack is a running local Vigil.
type Stack struct {
	Dir       string
	Moto      *emulator.Moto
	Clients   *awsenv.Clients
	Functions map[string]*emulator.Function // by function name
	BridgeURL string                        // http://127.0.0.1:port, when a bridge runs
	// WarningTopicARN and CriticalTopicARN are the two topics, by severity,
	// as template.yaml makes them; the functions are told both.
	WarningTopicARN  string
	CriticalTopicARN string
	QueueURL         string // SQS queue subscribed to both topics, to read notifications back in order
	StateMachineARN  string
	ConfigPath       string
	// StackName is Options.StackName: the prefix of the alarms and the name
	// of the dashboard the HealthCheck function converges; "" for none.
	StackName string

	// metrics stands in for CloudWatch Logs' EMF extraction.
	metrics *extractor
	stops   []func()
}

// Start builds the functions and starts everything. On error, whatever was
// started is stopped again.
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	s = &Stack{Dir: o.Dir, Functions: map[string]*emulator.Function{}}
	defer func() {
		if err != nil {
			s.Stop()
			s = nil
		}
	}()
	fns := o.Functions
	if len(fns) == 0 {
		fns = []string{"healthcheck", "recovery", "status"}
	}
	rie, bootstraps, err := emulator.Build(ctx, o.Dir, fns...)
	if err != nil {
		return s, err
	}
	root, err := emulator.ModuleRoot(ctx)
	if err != nil {
		return s, err
	}
	logTo := func(name string) (io.Writer, error) {
		if o.Log != nil {
			return o.Log, nil
		}
		f, err := os.Create(filepath.Join(o.Dir, name+".log"))
		if err != nil {
			return nil, err
		}
		s.stops = append(s.stops, func() { f.Close() })
		return f, nil
	}

	gw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return s, fmt.Errorf("localrun: listen for lambda gateway: %w", err)
	}
	motoLog, err := logTo("moto")
	if err != nil {
		return s, err
	}
	s.Moto, err = emulator.StartMoto(ctx, emulator.MotoOptions{LambdaGatewayPort: gw.Addr().(*net.TCPAddr).Port, Stdout: motoLog})
	if err != nil {
		gw.Close()
		return s, err
	}
	s.stops = append(s.stops, s.Moto.Stop)
	gateway, err := newLambdaGateway(s.Moto.Endpoint, s.Functions)
	if err != nil {
		gw.Close()
		return s, err
	}
	gwSrv := &http.Server{Handler: gateway, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = gwSrv.Serve(gw) }()
	s.stops = append(s.stops, func() { _ = gwSrv.Close() })
	if err := s.Moto.EnableStepFunctions(ctx); err != nil {
		return s, err
	}
	s.Clients = awsenv.New(s.Moto.AWSConfig())
	s.metrics = newExtractor(s.Clients.CloudWatch)

	if err := s.createResources(ctx, root); err != nil {
		return s, err
	}

	if o.Bridge != nil {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return s, fmt.Errorf("localrun: listen for bridge: %w", err)
		}
		srv := &http.Server{Handler: o.Bridge, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(l) }()
		s.stops = append(s.stops, func() { _ = srv.Close() })
		s.BridgeURL = "http://" + l.Addr().String()
	}
	if err := s.renderConfig(root, o.ConfigFile); err != nil {
		return s, err
	}

	env := append(s.Moto.Env(),
		"VIGIL_TABLE="+TableName,
		"VIGIL_WARNING_TOPIC_ARN="+s.WarningTopicARN,
		"VIGIL_CRITICAL_TOPIC_ARN="+s.CriticalTopicARN,
		"VIGIL_STATE_MACHINE_ARN="+s.StateMachineARN,
		"VIGIL_CONFIG_FILE="+s.ConfigPath,
		"LOG_LEVEL=INFO",
	)
	if o.StackName != "" {
		s.StackName = o.StackName
		env = append(env, "VIGIL_STACK_NAME="+o.StackName)
	}
	env = append(env, o.Env...)
	timeouts := map[string]time.Duration{"healthcheck": 50 * time.Second, "recovery": 60 * time.Second, "status": 10 * time.Second}
	var own *ownLines
	if o.FunctionLog != nil {
		own = &ownLines{w: o.FunctionLog}
	}
	for _, fn := range fns {
		name := "vigil-" + fn
		w, err := logTo(name)
		if err != nil {
			return s, err
		}
		if own != nil {
			w = &lineTap{next: w, line: own.line}
		}
		// The functions write their metrics to standard output as EMF.
		w = s.metrics.wrap(w)
		f, err := emulator.StartFunction(ctx, emulator.FunctionOptions{
			Name: name, RIE: rie, Bootstrap: bootstraps[fn], Env: env, Timeout: timeouts[fn], Log: w,
		})
		if err != nil {
			return s, err
		}
		s.Functions[name] = f
		s.stops = append(s.stops, f.Stop)
	}
	return s, nil
}

// Topic names of the local stack, by severity.
const (
	WarningTopic  = "vigil-local-warning"
	CriticalTopic = "vigil-local-critical"
)

// createResources makes what template.yaml would (see provision) and
// keeps their names.
func (s *Stack) createResources(ctx context.Context, root string) error {
	r, err := provision(ctx, s.Clients, root)
	if err != nil {
		return err
	}
	s.QueueURL, s.WarningTopicARN, s.CriticalTopicARN, s.StateMachineARN = r.QueueURL, r.WarningTopicARN, r.CriticalTopicARN, r.StateMachineARN
	return nil
}

// Resources are the names of what provision made.
type Resources struct {
	Table            string
	WarningTopicARN  string
	CriticalTopicARN string
	StateMachineARN  string
	QueueURL         string // subscribed to both topics
}

// provision makes what template.yaml would: the table, the warning and
// critical topics (one SQS queue subscribed to both, so notifications can be
// read back in the order they were sent, each with the topic it reached)
// and the recovery state machine from statemachine/recovery.asl.json. It may
// run again on the same emulator: what exists is kept.
func provision(ctx context.Context, c *awsenv.Clients, root string) (Resources, error) {
	r := Resources{Table: TableName}
	if err := store.CreateTable(ctx, c.DynamoDB, TableName); err != nil {
		return r, fmt.Errorf("localrun: create table: %w", err)
	}
	q := sqs.NewFromConfig(c.Config)
	queue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("vigil-local-notifications")})
	if err != nil {
		return r, fmt.Errorf("localrun: create queue: %w", err)
	}
	r.QueueURL = *queue.QueueUrl
	queueARN := fmt.Sprintf("arn:aws:sqs:%s:%s:vigil-local-notifications", c.Config.Region, Account)
	for _, t := range []struct {
		name string
		arn  *string
	}{{WarningTopic, &r.WarningTopicARN}, {CriticalTopic, &r.CriticalTopicARN}} {
		topic, err := c.SNS.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(t.name)})
		if err != nil {
			return r, fmt.Errorf("localrun: create topic %s: %w", t.name, err)
		}
		*t.arn = *topic.TopicArn
		// Not raw: the SNS envelope names the topic and carries the
		// message attributes (kind, severity).
		if _, err := c.SNS.Subscribe(ctx, &sns.SubscribeInput{
			TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN),
		}); err != nil {
			return r, fmt.Errorf("localrun: subscribe queue to %s: %w", t.name, err)
		}
	}
	def, err := os.ReadFile(filepath.Join(root, "statemachine", "recovery.asl.json"))
	if err != nil {
		return r, fmt.Errorf("localrun: read state machine: %w", err)
	}
	fnARN := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", c.Config.Region, Account, Recovery)
	sm, err := c.SFN.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(stateMachineName),
		Definition: aws.String(strings.ReplaceAll(string(def), "${RecoveryFunctionArn}", fnARN)),
		RoleArn:    aws.String(fmt.Sprintf("arn:aws:iam::%s:role/vigil-recovery", Account)),
	})
	var exists *sfntypes.StateMachineAlreadyExists
	switch {
	case errors.As(err, &exists):
		r.StateMachineARN = StateMachineARN(c.Config.Region)
	case err != nil:
		return r, fmt.Errorf("localrun: create state machine: %w", err)
	default:
		r.StateMachineARN = *sm.StateMachineArn
	}
	return r, nil
}

// StateMachineARN is the recovery state machine's ARN in region of the
// emulator's account.
func StateMachineARN(region string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", region, Account, stateMachineName)
}

func (s *Stack) renderConfig(root, src string) error {
	text, err := document(root, src, strings.TrimPrefix(s.BridgeURL, "http://"))
	if err != nil {
		return err
	}
	s.ConfigPath = filepath.Join(s.Dir, "vigil.yaml")
	if err := os.WriteFile(s.ConfigPath, []byte(text), 0o644); err != nil {
		return fmt.Errorf("localrun: write config: %w", err)
	}
	return nil
}

// sampleBridge is the demo bridge's address in the sample config.
const sampleBridge = "127.0.0.1:8765"

// document reads the configuration document src (default: the module's
// config/vigil.yaml) with the sample bridge address replaced by bridge,
// when bridge is not empty.
func document(root, src, bridge string) (string, error) {
	if src == "" {
		src = filepath.Join(root, "config", "vigil.yaml")
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("localrun: read config: %w", err)
	}
	text := string(b)
	if bridge != "" {
		text = strings.ReplaceAll(text, sampleBridge, bridge)
	}
	return text, nil
}

// WaitMetric waits until the functions have written a datum of metric
// name and it has been published to the emulator's CloudWatch — for metrics
// written by an invocation the caller does not see, such as the Recovery
// function's under the state machine.
func (s *Stack) WaitMetric(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return s.metrics.waitMetric(ctx, name)
}

// Invoke sends an event to a running function and returns its response.
func (s *Stack) Invoke(ctx context.Context, function string, event []byte) ([]byte, error) {
	f, ok := s.Functions[function]
	if !ok {
		return nil, fmt.Errorf("localrun: function %q is not running", function)
	}
	return f.Invoke(ctx, event)
}

// Stop stops everything Start started, newest first.
func (s *Stack) Stop() {
	if s == nil {
		return
	}
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

// ErrFunctionFailed reports a function invocation that returned a Lambda
// function error document.
var ErrFunctionFailed = errors.New("function returned an error")
