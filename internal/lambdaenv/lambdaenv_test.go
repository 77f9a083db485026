package lambdaenv

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/emulator/emutest"
)

// The package's one emulator, started by the first test that needs SSM.
var moto = &emutest.Shared{}

func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }

// ssmClient returns a client of the shared moto server, starting it once. A
// missing moto_server fails the test.
func ssmClient(t *testing.T) *ssm.Client {
	t.Helper()
	return ssm.NewFromConfig(moto.Get(t).AWSConfig())
}

// putParameter stores value under name in the emulator's SSM.
func putParameter(t *testing.T, client *ssm.Client, name, value string, typ ssmtypes.ParameterType) {
	t.Helper()
	if _, err := client.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: typ, Overwrite: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
}

// oneIntegration is a valid document of one integration named name.
func oneIntegration(name string) string {
	return "integrations:\n  - name: " + name + "\n    components:\n      - {name: db, type: tcp, target: 'db.example.com:5432'}\n"
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, s Settings)
	}{
		{"table required", map[string]string{"VIGIL_TABLE": ""}, "VIGIL_TABLE", nil},
		{"bad log level", map[string]string{"VIGIL_TABLE": "t", "LOG_LEVEL": "loud"}, "LOG_LEVEL", nil},
		{"bad concurrency", map[string]string{"VIGIL_TABLE": "t", "VIGIL_PROBE_CONCURRENCY": "0"}, "VIGIL_PROBE_CONCURRENCY", nil},
		{"defaults beside the bootstrap", map[string]string{"VIGIL_TABLE": "t", "LAMBDA_TASK_ROOT": "/var/task", "LOG_LEVEL": "debug"}, "", func(t *testing.T, s Settings) {
			if s.ConfigFile != filepath.Join("/var/task", "vigil.json") || s.Namespace != "Vigil" || s.LogLevel != slog.LevelDebug {
				t.Fatalf("settings = %+v", s)
			}
		}},
		{"a topic per severity", map[string]string{"VIGIL_TABLE": "t", "VIGIL_WARNING_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:w", "VIGIL_CRITICAL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:c"}, "", func(t *testing.T, s Settings) {
			if s.WarningTopicARN != "arn:aws:sns:us-east-1:123456789012:w" || s.CriticalTopicARN != "arn:aws:sns:us-east-1:123456789012:c" {
				t.Fatalf("settings = %+v", s)
			}
		}},
		// One severity may go unsent; the single topic of old is no
		// setting any more (the template sets both).
		{"critical only", map[string]string{"VIGIL_TABLE": "t", "VIGIL_CRITICAL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:c", "VIGIL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:old"}, "", func(t *testing.T, s Settings) {
			if s.WarningTopicARN != "" || s.CriticalTopicARN != "arn:aws:sns:us-east-1:123456789012:c" {
				t.Fatalf("settings = %+v", s)
			}
		}},
		{"absolute config path kept", map[string]string{"VIGIL_TABLE": "t", "LAMBDA_TASK_ROOT": "/var/task", "VIGIL_CONFIG_FILE": "/etc/vigil.yaml", "VIGIL_PROBE_CONCURRENCY": "32"}, "", func(t *testing.T, s Settings) {
			if s.ConfigFile != "/etc/vigil.yaml" || s.ProbeConcurrency != 32 {
				t.Fatalf("settings = %+v", s)
			}
		}},
		{"one region alone by default", map[string]string{"VIGIL_TABLE": "t", "AWS_REGION": "eu-west-1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512"}, "", func(t *testing.T, s Settings) {
			if s.MultiRegion() || !s.IsHome() || s.HomeRegion != "eu-west-1" || len(s.Regions) != 1 || s.MemoryMB != 512 || s.ShardComponents != 0 {
				t.Fatalf("settings = %+v", s)
			}
		}},
		{"a probe-only region", map[string]string{"VIGIL_TABLE": "t", "AWS_REGION": "eu-west-1", "VIGIL_HOME_REGION": "us-east-1",
			"VIGIL_REGIONS": "us-east-1, eu-west-1,ap-southeast-2,eu-west-1", "VIGIL_HOME_FUNCTION": "arn:aws:lambda:us-east-1:123456789012:function:vigil-healthcheck",
			"VIGIL_DNS_SERVER": "10.0.0.2:53", "VIGIL_SHARD_COMPONENTS": "100"}, "", func(t *testing.T, s Settings) {
			if !s.MultiRegion() || s.IsHome() || strings.Join(s.Regions, ",") != "us-east-1,eu-west-1,ap-southeast-2" || s.DNSServer != "10.0.0.2:53" || s.ShardComponents != 100 {
				t.Fatalf("settings = %+v", s)
			}
		}},
		{"own region missing from the list", map[string]string{"VIGIL_TABLE": "t", "AWS_REGION": "eu-west-1", "VIGIL_REGIONS": "us-east-1,ap-southeast-2", "VIGIL_HOME_REGION": "us-east-1"}, `does not include this region "eu-west-1"`, nil},
		{"home missing from the list", map[string]string{"VIGIL_TABLE": "t", "AWS_REGION": "eu-west-1", "VIGIL_REGIONS": "eu-west-1,ap-southeast-2", "VIGIL_HOME_REGION": "us-east-1"}, `does not include the home region "us-east-1"`, nil},
		{"probe-only without the home function", map[string]string{"VIGIL_TABLE": "t", "AWS_REGION": "eu-west-1", "VIGIL_REGIONS": "eu-west-1,us-east-1", "VIGIL_HOME_REGION": "us-east-1"}, "VIGIL_HOME_FUNCTION", nil},
		{"bad resolver address", map[string]string{"VIGIL_TABLE": "t", "AWS_REGION": "eu-west-1", "VIGIL_DNS_SERVER": "10.0.0.2"}, "VIGIL_DNS_SERVER", nil},
		{"bad shard size", map[string]string{"VIGIL_TABLE": "t", "AWS_REGION": "eu-west-1", "VIGIL_SHARD_COMPONENTS": "0"}, "VIGIL_SHARD_COMPONENTS", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"VIGIL_TABLE", "LOG_LEVEL", "VIGIL_PROBE_CONCURRENCY", "LAMBDA_TASK_ROOT", "VIGIL_CONFIG_FILE", "VIGIL_NAMESPACE", "VIGIL_WARNING_TOPIC_ARN", "VIGIL_CRITICAL_TOPIC_ARN", "VIGIL_TOPIC_ARN",
				"AWS_REGION", "AWS_DEFAULT_REGION", "VIGIL_HOME_REGION", "VIGIL_REGIONS", "VIGIL_HOME_FUNCTION", "VIGIL_DNS_SERVER", "VIGIL_SHARD_COMPONENTS", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_NAME"} {
				t.Setenv(k, tt.env[k])
			}
			s, err := FromEnv()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to name %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

// An SSM-held config is cached, refreshed after its TTL, and a broken new
// version keeps the last good document (against the emulator's SSM).
func TestConfigSourceSSM(t *testing.T) {
	ctx := context.Background()
	client := ssmClient(t)
	put := func(v string) {
		t.Helper()
		putParameter(t, client, "/vigil/config", v, ssmtypes.ParameterTypeString)
	}
	doc := oneIntegration
	put(doc("first"))
	s := Settings{ConfigParameter: "/vigil/config"}
	clock := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	get, err := s.configSource(client, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	name := func() string {
		t.Helper()
		d, err := get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d.Integrations[0].Name
	}
	if got := name(); got != "first" {
		t.Fatalf("got %q", got)
	}
	put(doc("second"))
	clock = clock.Add(59 * time.Second)
	if got := name(); got != "first" {
		t.Fatalf("within the TTL got %q, want the cached first", got)
	}
	clock = clock.Add(time.Second)
	if got := name(); got != "second" {
		t.Fatalf("after the TTL got %q, want second", got)
	}
	put("integrations: [")
	clock = clock.Add(time.Minute)
	if got := name(); got != "second" {
		t.Fatalf("after a broken update got %q, want the last good second", got)
	}

	// No good document at all is an error that names the parameter.
	empty := Settings{ConfigParameter: "/vigil/missing"}
	get, _ = empty.ConfigSource(client, time.Minute, slog.Default())
	if _, err := get(ctx); err == nil || !strings.Contains(err.Error(), "/vigil/missing") {
		t.Fatalf("err = %v", err)
	}
}

// loadSSM reads a SecureString decrypted, and its errors name the parameter
// and keep what config and SSM said (against the emulator's SSM).
func TestLoadSSM(t *testing.T) {
	ctx := t.Context()
	client := ssmClient(t)
	putParameter(t, client, "/vigil/load/secure", oneIntegration("secure"), ssmtypes.ParameterTypeSecureString)
	putParameter(t, client, "/vigil/load/invalid", "integrations:\n  - name: bare\n", ssmtypes.ParameterTypeString)

	doc, err := loadSSM(ctx, client, "/vigil/load/secure")
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Integrations) != 1 || doc.Integrations[0].Name != "secure" {
		t.Fatalf("document = %+v, want the decrypted one integration", doc)
	}

	_, err = loadSSM(ctx, client, "/vigil/load/invalid")
	if !errors.Is(err, config.ErrNoComponents) || !strings.HasPrefix(err.Error(), "config: SSM parameter /vigil/load/invalid: invalid document") {
		t.Errorf("invalid document: err = %v, want config's ErrNoComponents under the parameter's name", err)
	}

	_, err = loadSSM(ctx, client, "/vigil/load/missing")
	var notFound *ssmtypes.ParameterNotFound
	if !errors.As(err, &notFound) || !strings.HasPrefix(err.Error(), "config: get SSM parameter /vigil/load/missing: ") {
		t.Errorf("missing parameter: err = %v, want SSM's ParameterNotFound under the parameter's name", err)
	}
}
