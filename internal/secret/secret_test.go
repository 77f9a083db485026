package secret

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/emulator/emutest"
)

const (
	paramName  = "/vigil/bridge/token"
	paramValue = "s3cr3t-param-value-7f3a"
	secretName = "vigil/webhook"
	secretText = "Bearer s3cr3t-sm-value-91bc"
)

// The shared moto server holds the test parameter and secret.
var moto = &emutest.Shared{Setup: func(ctx context.Context, m *emulator.Moto) error {
	c := awsenv.New(m.AWSConfig())
	if _, err := c.SSM.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(paramName), Value: aws.String(paramValue), Type: ssmtypes.ParameterTypeSecureString,
	}); err != nil {
		return err
	}
	_, err := c.SecretsManager.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(secretName), SecretString: aws.String(secretText),
	})
	return err
}}

func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }

// countingSSM and countingSM count calls to the real clients, to prove the
// cache answers without one.
type countingSSM struct {
	SSMAPI
	mu    sync.Mutex
	calls int
}

func (c *countingSSM) GetParameter(ctx context.Context, in *ssm.GetParameterInput, o ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.SSMAPI.GetParameter(ctx, in, o...)
}

func (c *countingSSM) n() int { c.mu.Lock(); defer c.mu.Unlock(); return c.calls }

type countingSM struct {
	SecretsManagerAPI
	mu    sync.Mutex
	calls int
}

func (c *countingSM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.SecretsManagerAPI.GetSecretValue(ctx, in, o...)
}

func (c *countingSM) n() int { c.mu.Lock(); defer c.mu.Unlock(); return c.calls }

// services returns counting clients on the shared moto server. A missing
// moto_server fails the test.
func services(t *testing.T) (*countingSSM, *countingSM) {
	t.Helper()
	c := awsenv.New(moto.Get(t).AWSConfig())
	return &countingSSM{SSMAPI: c.SSM}, &countingSM{SecretsManagerAPI: c.SecretsManager}
}

func TestResolve(t *testing.T) {
	s, sm := services(t)
	r := New(s, sm, time.Minute)
	ctx := context.Background()
	if v, err := r.Resolve(ctx, config.SecretRef{SSM: paramName}); err != nil || v != paramValue {
		t.Errorf("SSM SecureString: %q, %v", v, err)
	}
	if v, err := r.Resolve(ctx, config.SecretRef{SecretsManager: secretName}); err != nil || v != secretText {
		t.Errorf("Secrets Manager: %q, %v", v, err)
	}
}

func TestCache(t *testing.T) {
	s, sm := services(t)
	r := New(s, sm, time.Minute)
	now := time.Now()
	r.now = func() time.Time { return now }
	ctx := context.Background()
	ref := config.SecretRef{SSM: paramName}
	for range 3 {
		if _, err := r.Resolve(ctx, ref); err != nil {
			t.Fatal(err)
		}
	}
	if s.n() != 1 {
		t.Errorf("3 resolves within the TTL made %d calls, want 1", s.n())
	}
	now = now.Add(61 * time.Second)
	if _, err := r.Resolve(ctx, ref); err != nil || s.n() != 2 {
		t.Errorf("after the TTL: err %v, %d calls; want a second call", err, s.n())
	}

	// Concurrent first uses of one secret share a single fetch.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if v, err := r.Resolve(ctx, config.SecretRef{SecretsManager: secretName}); err != nil || v != secretText {
				t.Errorf("concurrent resolve: %q, %v", v, err)
			}
		})
	}
	wg.Wait()
	if sm.n() != 1 {
		t.Errorf("8 concurrent resolves made %d calls, want 1", sm.n())
	}

	// Without a TTL every call fetches.
	s2, _ := services(t)
	r0 := New(s2, nil, 0)
	_, _ = r0.Resolve(ctx, ref)
	_, _ = r0.Resolve(ctx, ref)
	if s2.n() != 2 {
		t.Errorf("ttl 0: %d calls, want 2", s2.n())
	}
}

func TestErrorsNameTheReference(t *testing.T) {
	s, sm := services(t)
	r := New(s, sm, time.Minute)
	ctx := context.Background()
	tests := []struct {
		ref  config.SecretRef
		want string
		is   error
	}{
		{config.SecretRef{SSM: "/vigil/missing"}, "ssm parameter /vigil/missing", nil},
		{config.SecretRef{SecretsManager: "vigil/missing"}, "secretsmanager secret vigil/missing", nil},
		{config.SecretRef{}, "invalid reference", ErrInvalidRef},
		{config.SecretRef{SSM: "a", SecretsManager: "b"}, "invalid reference", ErrInvalidRef},
	}
	for _, tt := range tests {
		_, err := r.Resolve(ctx, tt.ref)
		if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
			t.Errorf("Resolve(%+v) = %v, want an error naming %q", tt.ref, err, tt.want)
		}
	}
	// A failure is not cached: the next call asks again.
	before := s.n()
	_, _ = r.Resolve(ctx, config.SecretRef{SSM: "/vigil/missing"})
	if s.n() != before+1 {
		t.Error("a failed lookup was cached")
	}
	if _, err := New(nil, nil, time.Minute).Resolve(ctx, config.SecretRef{SSM: paramName}); !errors.Is(err, ErrNoClient) {
		t.Errorf("no SSM client: %v, want ErrNoClient", err)
	}
}

func TestHeaders(t *testing.T) {
	s, sm := services(t)
	r := New(s, sm, time.Minute)
	ctx := context.Background()
	h, err := r.Headers(ctx,
		map[string]string{"accept": "application/json", "Authorization": "plain loses"},
		map[string]config.SecretRef{"authorization": {SecretsManager: secretName}, "X-Token": {SSM: paramName}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if h.Get("Accept") != "application/json" || h.Get("Authorization") != secretText || h.Get("X-Token") != paramValue || len(h) != 3 {
		t.Errorf("headers %v", h)
	}
	_, err = r.Headers(ctx, nil, map[string]config.SecretRef{"X-Key": {SSM: "/vigil/nope"}})
	if err == nil || !strings.Contains(err.Error(), "X-Key") || !strings.Contains(err.Error(), "/vigil/nope") {
		t.Errorf("err = %v, want one naming the header and the parameter", err)
	}
}

// TestValuesNeverPrinted resolves both secrets, then prints the resolver and
// errors every way a log line might, and looks for the values.
func TestValuesNeverPrinted(t *testing.T) {
	s, sm := services(t)
	r := New(s, sm, time.Minute)
	ctx := context.Background()
	if _, err := r.Headers(ctx, nil, map[string]config.SecretRef{"A": {SSM: paramName}, "B": {SecretsManager: secretName}}); err != nil {
		t.Fatal(err)
	}
	_, err1 := r.Resolve(ctx, config.SecretRef{SSM: paramName + "/missing"})
	_, err2 := r.Headers(ctx, map[string]string{"C": "x"}, map[string]config.SecretRef{"D": {SSM: "/none"}})
	var printed []string
	for _, v := range []any{r, err1, err2} {
		for _, f := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
			printed = append(printed, fmt.Sprintf(f, v))
		}
		printed = append(printed, fmt.Sprint(v))
	}
	for _, p := range printed {
		for _, secret := range []string{paramValue, secretText, "s3cr3t"} {
			if strings.Contains(p, secret) {
				t.Errorf("printed form contains a secret value: %q", p)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(r), "cached: 2") {
		t.Errorf("fmt.Sprint(resolver) = %q", fmt.Sprint(r))
	}
}
