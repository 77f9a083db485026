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
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/config"
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
	// HealthCheckInstances is how many instances of the HealthCheck
	// function run in each region (default 1): Lambda's sandboxes, each
	// serving one invocation at a time. The coordinator of a sharded check
	// is one of them and its shards land on the others, so a check of n
	// shards needs n + 1; fewer make the shards wait for one another.
	HealthCheckInstances int
	// Regions are the probing regions, the first one the home, where the
	// table, topics and state machine are and the Recovery and Status
	// functions run. Empty is one region, emulator.Region, exactly as
	// before there were regions.
	Regions []Region
	// NoMetricPublishing keeps the functions' EMF documents out of moto:
	// they are still read, checked and counted (Tick waits for them), but
	// not published to its CloudWatch. For measurements: on AWS, CloudWatch
	// Logs extracts the metrics off the functions' path, while here
	// publishing them competes with the functions' own requests for moto,
	// which serves one request at a time.
	NoMetricPublishing bool
}

// Region is one local region of a multi-region stack.
type Region struct {
	Name string
	// DNSServer, when set, is the host:port the region's probes resolve
	// names through (VIGIL_DNS_SERVER).
	DNSServer string
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
	// LambdaEndpoint is the local Lambda service of every region (the
	// gateway): the HealthCheck functions' AWS_ENDPOINT_URL_LAMBDA.
	LambdaEndpoint string

	// metrics stands in for CloudWatch Logs' EMF extraction, in the home
	// region; each other region's functions publish to its own.
	metrics *extractor
	gateway *lambdaGateway
	home    string
	regions []string
	lambdas map[string]*lambda.Client // by region, pointed at the gateway
	stops   []func()
}

// Start builds the functions and starts everything. On error, whatever was
// started is stopped again.
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	s = &Stack{Dir: o.Dir, Functions: map[string]*emulator.Function{}, home: emulator.Region}
	regions := []Region{{Name: emulator.Region}}
	multi := len(o.Regions) > 0
	if multi {
		if err := checkRegions(o.Regions); err != nil {
			return nil, err
		}
		regions, s.home = o.Regions, o.Regions[0].Name
	}
	for _, r := range regions {
		s.regions = append(s.regions, r.Name)
	}
	instances := max(o.HealthCheckInstances, 1)
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
	s.gateway, err = newLambdaGateway(s.Moto.Endpoint, s.home, !multi)
	if err != nil {
		gw.Close()
		return s, err
	}
	s.LambdaEndpoint = "http://" + gw.Addr().String()
	gwSrv := &http.Server{Handler: s.gateway, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = gwSrv.Serve(gw) }()
	s.stops = append(s.stops, func() { _ = gwSrv.Close() })
	if err := s.Moto.EnableStepFunctions(ctx); err != nil {
		return s, err
	}
	cfg := s.Moto.AWSConfig()
	cfg.Region = s.home
	s.Clients = awsenv.New(cfg)
	cloudWatch := func(c *awsenv.Clients) PutMetricDataAPI {
		if o.NoMetricPublishing {
			return discardMetrics{}
		}
		return c.CloudWatch
	}
	s.metrics = newExtractor(cloudWatch(s.Clients))
	extractors := map[string]*extractor{s.home: s.metrics}
	s.lambdas = map[string]*lambda.Client{}
	for _, r := range s.regions {
		rc := s.Moto.AWSConfig()
		rc.Region = r
		if extractors[r] == nil {
			extractors[r] = newExtractor(cloudWatch(awsenv.New(rc)))
		}
		// No retry: a retried invoke would check again.
		rc.BaseEndpoint, rc.RetryMaxAttempts = aws.String(s.LambdaEndpoint), 1
		s.lambdas[r] = lambda.NewFromConfig(rc)
	}

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

	// Every region's functions are told the home's table, topics and state
	// machine: the functions build those clients with the home region.
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
	timeouts := map[string]time.Duration{"healthcheck": 50 * time.Second, "recovery": 60 * time.Second, "status": 10 * time.Second}
	var own *ownLines
	if o.FunctionLog != nil {
		own = &ownLines{w: o.FunctionLog}
	}
	start := func(fn, region string, i int, extra []string) error {
		name := "vigil-" + fn
		logName := name
		if region != s.home || i > 0 {
			logName = fmt.Sprintf("%s.%s.%d", name, region, i)
		}
		w, err := logTo(logName)
		if err != nil {
			return err
		}
		if own != nil {
			w = &lineTap{next: w, line: own.line}
		}
		// The functions write their metrics to standard output as EMF,
		// extracted in their own region.
		w = extractors[region].wrap(w)
		fenv := append(append(slices.Clip(env), extra...), o.Env...)
		f, err := emulator.StartFunction(ctx, emulator.FunctionOptions{
			Name: name, RIE: rie, Bootstrap: bootstraps[fn], Env: fenv, Timeout: timeouts[fn], Log: w,
		})
		if err != nil {
			return err
		}
		s.stops = append(s.stops, f.Stop)
		s.gateway.add(region, f)
		if region == s.home && i == 0 {
			s.Functions[name] = f
		}
		return nil
	}
	for _, fn := range fns {
		if fn != "healthcheck" {
			// Recovery and Status run in the home region only.
			var extra []string
			if multi {
				extra = []string{"AWS_REGION=" + s.home, "AWS_DEFAULT_REGION=" + s.home}
			}
			if err := start(fn, s.home, 0, extra); err != nil {
				return s, err
			}
			continue
		}
		for _, r := range regions {
			// Every instance may invoke: the coordinator its shards,
			// a probe-only region its home.
			extra := []string{"AWS_ENDPOINT_URL_LAMBDA=" + s.LambdaEndpoint}
			if multi {
				extra = append(extra, regionEnv(r, s.regions)...)
			}
			for i := range instances {
				if err := start(fn, r.Name, i, extra); err != nil {
					return s, err
				}
			}
		}
	}
	return s, nil
}

// discardMetrics is a CloudWatch that accepts every datum and keeps none.
type discardMetrics struct{}

func (discardMetrics) PutMetricData(context.Context, *cloudwatch.PutMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// checkRegions refuses an unnamed or repeated region.
func checkRegions(regions []Region) error {
	seen := map[string]bool{}
	for _, r := range regions {
		if r.Name == "" || strings.ContainsAny(r.Name, ", /:") {
			return fmt.Errorf("localrun: bad region name %q", r.Name)
		}
		if seen[r.Name] {
			return fmt.Errorf("localrun: region %q named twice", r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}

// regionEnv is what tells a HealthCheck instance of a multi-region stack
// where it runs and where its home is; all names the regions, the home
// first.
func regionEnv(r Region, all []string) []string {
	home := all[0]
	env := []string{
		"AWS_REGION=" + r.Name,
		"AWS_DEFAULT_REGION=" + r.Name,
		"VIGIL_HOME_REGION=" + home,
		"VIGIL_REGIONS=" + strings.Join(all, ","),
	}
	if r.Name != home {
		env = append(env, "VIGIL_HOME_FUNCTION="+FunctionARN(home, HealthCheck))
	}
	if r.DNSServer != "" {
		env = append(env, "VIGIL_DNS_SERVER="+r.DNSServer)
	}
	return env
}

// FunctionARN is the ARN of a local function in region.
func FunctionARN(region, function string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, Account, function)
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
	fnARN := FunctionARN(c.Config.Region, Recovery)
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
	// The functions load the compiled document, as `sam build` bundles it.
	s.ConfigPath = filepath.Join(s.Dir, "vigil.json")
	return WriteCompiled(s.ConfigPath, text)
}

// WriteCompiled validates the YAML document text and writes it to path
// compiled (config.Compile), as `sam build` bundles it beside each
// bootstrap, so a local function reads what a deployed one reads.
func WriteCompiled(path, text string) error {
	doc, err := config.Parse([]byte(text))
	if err != nil {
		return fmt.Errorf("localrun: %w", err)
	}
	compiled, err := config.Compile(doc)
	if err != nil {
		return fmt.Errorf("localrun: %w", err)
	}
	if err := os.WriteFile(path, compiled, 0o644); err != nil {
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

// Invoke sends an event to a running function and returns its response:
// straight to Functions[function] (for the HealthCheck, the home's first
// instance), waiting while it is busy; InvokeHealthCheck goes through the
// local Lambda service to any idle instance.
func (s *Stack) Invoke(ctx context.Context, function string, event []byte) ([]byte, error) {
	f, ok := s.Functions[function]
	if !ok {
		return nil, fmt.Errorf("localrun: function %q is not running", function)
	}
	return f.Invoke(ctx, event)
}

// InvokeHealthCheck invokes the HealthCheck function of region ("" for the
// home) as a Lambda client there would: through the local Lambda service,
// which hands the event to an idle instance of the region's pool, waiting
// for one while all are busy. A function error is returned as its payload
// (the runtime's errorType/errorMessage document), as Invoke returns it.
func (s *Stack) InvokeHealthCheck(ctx context.Context, region string, event []byte) ([]byte, error) {
	if region == "" {
		region = s.home
	}
	c, ok := s.lambdas[region]
	if !ok {
		return nil, fmt.Errorf("localrun: no region %q (the stack runs %v)", region, s.regions)
	}
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(HealthCheck), Payload: event})
	if err != nil {
		return nil, fmt.Errorf("localrun: invoke %s in %s: %w", HealthCheck, region, err)
	}
	return out.Payload, nil
}

// Regions names the stack's regions, the home first.
func (s *Stack) Regions() []string { return slices.Clone(s.regions) }

// Instances returns the running instances of function in region ("" for
// the home), in the order they started; the home's first one is
// Functions[function].
func (s *Stack) Instances(region, function string) []*emulator.Function {
	if region == "" {
		region = s.home
	}
	return s.gateway.instances(region, function)
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
