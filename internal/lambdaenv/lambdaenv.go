// Package lambdaenv reads the settings every Vigil function shares from its
// environment (set by template.yaml, or by the local runner) and builds the
// pieces they all wire the same way: the JSON logger, the AWS session and the
// config source (with the SSM client it may read from). It builds no other
// AWS client, so a function links only the service packages its main uses.
package lambdaenv

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/vigil-monitor/vigil/internal/awsenv/session"
	"github.com/vigil-monitor/vigil/internal/config"
)

// Settings are the functions' environment variables.
type Settings struct {
	Table     string // VIGIL_TABLE (required)
	Namespace string // VIGIL_NAMESPACE, default "Vigil"
	// WarningTopicARN (VIGIL_WARNING_TOPIC_ARN) and CriticalTopicARN
	// (VIGIL_CRITICAL_TOPIC_ARN) receive the functions' notifications by
	// severity (notify.Severity); an empty one disables that severity only.
	WarningTopicARN  string
	CriticalTopicARN string
	StateMachineARN  string // VIGIL_STATE_MACHINE_ARN (HealthCheck only)
	ConfigFile       string // VIGIL_CONFIG_FILE, default vigil.json (the compiled document) beside the bootstrap
	ConfigParameter  string // VIGIL_CONFIG_PARAMETER: SSM parameter holding the document; wins over the file
	// StackName (VIGIL_STACK_NAME) prefixes the alarm names of each
	// integration, so maintenance windows can hold them; empty: no alarms.
	StackName string
	LogLevel  slog.Level
	// ProbeConcurrency bounds probes in flight (VIGIL_PROBE_CONCURRENCY; 0
	// means the handler's default).
	ProbeConcurrency int

	// Region is this function's region (AWS_REGION). HomeRegion
	// (VIGIL_HOME_REGION, default Region) owns state and decisions; Regions
	// (VIGIL_REGIONS, comma-separated, default Region alone) are every
	// region that probes, the home included. HomeFunction
	// (VIGIL_HOME_FUNCTION) is the home's HealthCheck, which a probe-only
	// region asks to decide a tick.
	Region       string
	HomeRegion   string
	Regions      []string
	HomeFunction string
	// DNSServer (VIGIL_DNS_SERVER, host:port) is the resolver probes use;
	// empty: the system's.
	DNSServer string
	// FunctionName (AWS_LAMBDA_FUNCTION_NAME) is what the coordinator
	// invokes for its shards; MemoryMB (AWS_LAMBDA_FUNCTION_MEMORY_SIZE)
	// sizes them, unless ShardComponents (VIGIL_SHARD_COMPONENTS) is set.
	FunctionName    string
	MemoryMB        int
	ShardComponents int
}

// MultiRegion reports whether more than one region probes.
func (s Settings) MultiRegion() bool { return len(s.Regions) > 1 }

// IsHome reports whether this region owns state and decisions.
func (s Settings) IsHome() bool { return s.HomeRegion == s.Region }

// FromEnv reads Settings. A missing required variable is an error naming it.
func FromEnv() (Settings, error) {
	s := Settings{
		Table:            os.Getenv("VIGIL_TABLE"),
		Namespace:        getenv("VIGIL_NAMESPACE", "Vigil"),
		WarningTopicARN:  os.Getenv("VIGIL_WARNING_TOPIC_ARN"),
		CriticalTopicARN: os.Getenv("VIGIL_CRITICAL_TOPIC_ARN"),
		StateMachineARN:  os.Getenv("VIGIL_STATE_MACHINE_ARN"),
		ConfigFile:       getenv("VIGIL_CONFIG_FILE", "vigil.json"),
		ConfigParameter:  os.Getenv("VIGIL_CONFIG_PARAMETER"),
		StackName:        os.Getenv("VIGIL_STACK_NAME"),
	}
	if s.Table == "" {
		return s, fmt.Errorf("lambdaenv: VIGIL_TABLE is not set")
	}
	if root := os.Getenv("LAMBDA_TASK_ROOT"); root != "" && !filepath.IsAbs(s.ConfigFile) {
		s.ConfigFile = filepath.Join(root, s.ConfigFile)
	}
	if v := os.Getenv("VIGIL_PROBE_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return s, fmt.Errorf("lambdaenv: VIGIL_PROBE_CONCURRENCY %q: want a number from 1 to 1000", v)
		}
		s.ProbeConcurrency = n
	}
	if err := s.regionsFromEnv(); err != nil {
		return s, err
	}
	if err := s.LogLevel.UnmarshalText([]byte(getenv("LOG_LEVEL", "INFO"))); err != nil {
		return s, fmt.Errorf("lambdaenv: LOG_LEVEL %q: want DEBUG, INFO, WARN or ERROR", os.Getenv("LOG_LEVEL"))
	}
	return s, nil
}

// regionsFromEnv reads the region, fan-out and resolver settings.
func (s *Settings) regionsFromEnv() error {
	s.Region = getenv("AWS_REGION", getenv("AWS_DEFAULT_REGION", ""))
	s.HomeRegion = getenv("VIGIL_HOME_REGION", s.Region)
	s.HomeFunction = os.Getenv("VIGIL_HOME_FUNCTION")
	s.DNSServer = os.Getenv("VIGIL_DNS_SERVER")
	s.FunctionName = os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	for r := range strings.SplitSeq(os.Getenv("VIGIL_REGIONS"), ",") {
		if r = strings.TrimSpace(r); r != "" && !slices.Contains(s.Regions, r) {
			s.Regions = append(s.Regions, r)
		}
	}
	if len(s.Regions) == 0 {
		s.Regions = []string{s.Region}
	}
	switch {
	case len(s.Regions) > config.MaxRegions:
		return fmt.Errorf("lambdaenv: VIGIL_REGIONS names %d regions, at most %d", len(s.Regions), config.MaxRegions)
	case !slices.Contains(s.Regions, s.Region):
		return fmt.Errorf("lambdaenv: VIGIL_REGIONS %q does not include this region %q", os.Getenv("VIGIL_REGIONS"), s.Region)
	case !slices.Contains(s.Regions, s.HomeRegion):
		return fmt.Errorf("lambdaenv: VIGIL_REGIONS %q does not include the home region %q", os.Getenv("VIGIL_REGIONS"), s.HomeRegion)
	case !s.IsHome() && s.HomeFunction == "":
		return fmt.Errorf("lambdaenv: VIGIL_HOME_FUNCTION is not set in probe-only region %s (home %s)", s.Region, s.HomeRegion)
	}
	if s.DNSServer != "" {
		if _, _, err := net.SplitHostPort(s.DNSServer); err != nil {
			return fmt.Errorf("lambdaenv: VIGIL_DNS_SERVER %q: want host:port: %w", s.DNSServer, err)
		}
	}
	var err error
	if s.MemoryMB, err = intEnv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 128, 10240); err != nil {
		return err
	}
	s.ShardComponents, err = intEnv("VIGIL_SHARD_COMPONENTS", 1, 10000)
	return err
}

// intEnv reads an optional whole number within [lo, hi]; 0 when unset.
func intEnv(k string, lo, hi int) (int, error) {
	v := strings.TrimSpace(os.Getenv(k))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("lambdaenv: %s %q: want a number from %d to %d", k, v, lo, hi)
	}
	return n, nil
}

// Logger returns the JSON logger every function logs with.
func (s Settings) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: s.LogLevel}))
}

// ConfigSource returns the function that yields the configuration document.
// A bundled file is read and validated once, at start-up, so a bad file fails
// the cold start loudly. An SSM parameter is re-read at most once per ttl, so
// targets change without a redeploy; if a refresh fails or the new document is
// invalid, the last good document is kept and the error is logged.
func (s Settings) ConfigSource(getter SSMGetter, ttl time.Duration, log *slog.Logger) (func(context.Context) (*config.Document, error), error) {
	return s.configSource(getter, ttl, log, time.Now)
}

// configSource is ConfigSource on the clock now.
func (s Settings) configSource(getter SSMGetter, ttl time.Duration, log *slog.Logger, now func() time.Time) (func(context.Context) (*config.Document, error), error) {
	if s.ConfigParameter == "" {
		doc, err := config.LoadFile(s.ConfigFile)
		if err != nil {
			return nil, err
		}
		return func(context.Context) (*config.Document, error) { return doc, nil }, nil
	}
	c := &ssmCache{ssm: getter, name: s.ConfigParameter, ttl: ttl, log: log, now: now}
	return c.get, nil
}

type ssmCache struct {
	ssm  SSMGetter
	name string
	ttl  time.Duration
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex // guards doc and fetched
	doc     *config.Document
	fetched time.Time
}

func (c *ssmCache) get(ctx context.Context) (*config.Document, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.doc != nil && c.now().Sub(c.fetched) < c.ttl {
		return c.doc, nil
	}
	doc, err := loadSSM(ctx, c.ssm, c.name)
	if err != nil {
		if c.doc != nil {
			c.log.Error("refresh config failed; keeping the last good document", "parameter", c.name, "error", err)
			return c.doc, nil
		}
		return nil, err
	}
	c.doc, c.fetched = doc, c.now()
	return doc, nil
}

// SSMGetter is the part of the SSM client the config source needs;
// *ssm.Client satisfies it.
type SSMGetter interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

var _ SSMGetter = (*ssm.Client)(nil)

// loadSSM reads the document from the SSM parameter name (String or
// SecureString, decrypted) and parses it (see config.Parse). It lets targets
// change without a redeploy.
func loadSSM(ctx context.Context, client SSMGetter, name string) (*config.Document, error) {
	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{
		Name:           aws.String(name),
		WithDecryption: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("config: get SSM parameter %s: %w", name, err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return nil, fmt.Errorf("config: SSM parameter %s has no value", name)
	}
	return config.ParseNamed("SSM parameter "+name, []byte(*out.Parameter.Value))
}

func getenv(k, def string) string {
	if v := strings.TrimSpace(os.Getenv(k)); v != "" {
		return v
	}
	return def
}

// Env is what every function's main wires its handler from.
type Env struct {
	Settings
	Log *slog.Logger
	// AWS is the configuration (with the request counter) main builds the
	// function's other clients from.
	AWS *session.Session
	// SSM is the client the config source reads a parameter with; secret
	// headers share it.
	SSM *ssm.Client
	// Config yields the configuration document (see ConfigSource).
	Config func(context.Context) (*config.Document, error)
}

// ConfigTTL is how long an SSM-held document is used before it is re-read.
const ConfigTTL = time.Minute

// Setup reads the settings, builds the logger, the AWS session and the SSM
// client once per container, and loads the configuration source. Errors
// name the function and the step; main logs them and exits, so a broken
// cold start fails loudly.
func Setup(ctx context.Context, function string) (*Env, error) {
	s, err := FromEnv()
	if err != nil {
		return nil, fmt.Errorf("%s: settings: %w", function, err)
	}
	e := &Env{Settings: s, Log: s.Logger().With("function", function)}
	if e.AWS, err = session.Load(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", function, err)
	}
	e.SSM = ssm.NewFromConfig(e.AWS.Config)
	if e.Config, err = s.ConfigSource(e.SSM, ConfigTTL, e.Log); err != nil {
		return nil, fmt.Errorf("%s: config: %w", function, err)
	}
	return e, nil
}

// Fail logs a cold-start error as JSON, like every other line, and exits so
// Lambda reports the init failure. Only a main may call it.
func Fail(err error) {
	slog.New(slog.NewJSONHandler(os.Stdout, nil)).Error("cold start failed", "error", err)
	os.Exit(1)
}
