package recovery

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/vigil-monitor/vigil/internal/config"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/emulator/emutest"
)

// One moto_server, executing state machines, serves every test of this
// binary; the first test that needs it starts it.
var moto = &emutest.Shared{Setup: func(ctx context.Context, m *emulator.Moto) error { return m.EnableStepFunctions(ctx) }}

func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }

// needMoto returns clients on the shared moto_server, or fails the test.
func needMoto(t *testing.T) *awsenv.Clients {
	t.Helper()
	return awsenv.New(moto.Get(t).AWSConfig())
}

// ownRegion returns clients on moto in a region no other test uses. Tests
// that run state machine executions or Lambda invocations need one: moto 5.2
// keeps one queue of Lambda results per region, and fails (HTTP 500, "cannot
// pickle '_thread.RLock' object") to start an execution in a region where
// another execution has run, whatever its state machine.
func ownRegion(t *testing.T) (*awsenv.Clients, string) {
	t.Helper()
	regions.Lock()
	defer regions.Unlock()
	if regions.next >= len(regionPool) {
		t.Fatal("no unused region left for this test: extend regionPool")
	}
	region := regionPool[regions.next]
	regions.next++
	cfg := moto.Get(t).AWSConfig()
	cfg.Region = region
	return awsenv.New(cfg), region
}

var regionPool = []string{
	"us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
	"eu-central-1", "eu-north-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1",
	"ap-northeast-2", "ap-northeast-3", "eu-south-1", "af-south-1", "ap-east-1", "me-south-1",
}

var regions struct {
	sync.Mutex
	next int
}

// queueResults queues what moto's simple Lambda backend returns to the next
// invocations in region (emulator.Moto.QueueLambdaResults serves only
// emulator.Region).
func queueResults(t *testing.T, ctx context.Context, region string, results ...string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"results": results, "region": region})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, moto.Get(t).Endpoint+"/moto-api/static/lambda-simple/response", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("queue Lambda results: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("queue Lambda results: status %d", resp.StatusCode)
	}
}

// testRole returns an IAM role ARN on moto (IAM is global), created once.
func testRole(t *testing.T) string {
	t.Helper()
	endpoint := moto.Get(t).Endpoint
	role.once.Do(func() {
		role.arn, role.err = createRole(testCtx(t, 30*time.Second), endpoint, "vigil-recovery-test")
	})
	if role.err != nil {
		t.Fatalf("create IAM role: %v", role.err)
	}
	return role.arn
}

var role struct {
	once sync.Once
	arn  string
	err  error
}

// testCtx is a context bounded well within the test binary's timeout.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// uniqueName returns a resource name unique within this test binary.
func uniqueName(t *testing.T, prefix string) string {
	t.Helper()
	nameSeq.Lock()
	defer nameSeq.Unlock()
	nameSeq.n++
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid()%10000, nameSeq.n)
}

var nameSeq struct {
	sync.Mutex
	n int
}

// createRole creates an IAM role on moto. No IAM client is among the
// module's dependencies, so this speaks the query protocol directly; moto
// routes by the credential scope and does not check signatures.
func createRole(ctx context.Context, endpoint, name string) (string, error) {
	form := url.Values{
		"Action":                   {"CreateRole"},
		"Version":                  {"2010-05-08"},
		"RoleName":                 {name},
		"AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[]}`},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("create role %s: status %d", name, resp.StatusCode)
	}
	return "arn:aws:iam::123456789012:role/" + name, nil
}

// createFunction creates a Lambda function on moto with a dummy bootstrap;
// moto's simple backend never runs it.
func createFunction(t *testing.T, ctx context.Context, client *lambda.Client, name, role string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("#!/bin/sh\n")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      lambdatypes.RuntimeProvidedal2023,
		Role:         aws.String(role),
		Handler:      aws.String("bootstrap"),
		Code:         &lambdatypes.FunctionCode{ZipFile: buf.Bytes()},
	})
	if err != nil {
		t.Fatalf("create function %s: %v", name, err)
	}
	return aws.ToString(out.FunctionArn)
}

func dur(d time.Duration) config.Duration { return config.Duration(d) }
