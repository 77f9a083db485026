package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/vigil-monitor/vigil/internal/check"
	"github.com/vigil-monitor/vigil/internal/emulator"
)

// fakeFunction is an emulator.Function whose "runtime" is an HTTP handler:
// the pool's logic without processes.
func fakeFunction(t *testing.T, name string, h http.HandlerFunc) *emulator.Function {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &emulator.Function{Name: name, URL: srv.URL}
}

// poolGateway is a gateway whose pools hold instances that never run:
// enough for routing and for what is refused before an invoke.
func poolGateway(t *testing.T, anyRegion bool, keys ...poolKey) (*lambdaGateway, map[poolKey]*pool) {
	t.Helper()
	g, err := newLambdaGateway("http://127.0.0.1:9", "us-east-1", anyRegion)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		g.add(k.region, &emulator.Function{Name: k.function, URL: "http://127.0.0.1:9"})
	}
	return g, g.pools
}

// A Lambda Invoke goes to the pool of its function in the region its ARN
// names, else the region its SigV4 credential scope names, else the home.
func TestGatewayRoutesInvokesByRegion(t *testing.T) {
	home, eu, rec := poolKey{"us-east-1", HealthCheck}, poolKey{"eu-west-1", HealthCheck}, poolKey{"us-east-1", Recovery}
	g, pools := poolGateway(t, false, home, eu, rec)
	scope := func(region string) string {
		return "AWS4-HMAC-SHA256 Credential=testing/20260101/" + region + "/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
	}
	path := func(fn string) string { return "/2015-03-31/functions/" + fn + "/invocations" }
	for _, c := range []struct {
		name, target, auth string
		want               *poolKey // nil: not served here, on to moto
	}{
		{"name, unsigned: the home", path(HealthCheck), "", &home},
		{"name, signed for eu-west-1", path(HealthCheck), scope("eu-west-1"), &eu},
		{"name, signed for the home", path(HealthCheck), scope("us-east-1"), &home},
		{"ARN", path("arn:aws:lambda:eu-west-1:123456789012:function:" + HealthCheck), "", &eu},
		{"escaped ARN with a qualifier", path("arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3A" + HealthCheck + "%3A%24LATEST"), "", &eu},
		{"the ARN's region over the signature's", path("arn:aws:lambda:us-east-1:123456789012:function:" + HealthCheck), scope("eu-west-1"), &home},
		{"partial ARN, signed", path("123456789012:function:" + HealthCheck), scope("eu-west-1"), &eu},
		{"presigned", path(HealthCheck) + "?X-Amz-Credential=testing%2F20260101%2Feu-west-1%2Flambda%2Faws4_request", "", &eu},
		{"recovery, as moto's Step Functions call it", path("arn:aws:lambda:us-east-1:123456789012:function:" + Recovery), scope("us-east-1"), &rec},
		{"a function only the home runs, in another region", path(Recovery), scope("eu-west-1"), nil},
		{"a region without the function", path(HealthCheck), scope("ap-south-1"), nil},
		{"an unknown function", path("other"), "", nil},
		{"not an invoke", "/2015-03-31/functions/" + HealthCheck, "", nil},
		{"no function", path(""), "", nil},
		{"another service", "/", scope("us-east-1"), nil},
	} {
		r := httptest.NewRequest(http.MethodPost, c.target, nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		p, ok := g.route(r)
		switch {
		case c.want == nil && ok:
			t.Errorf("%s: routed to a pool, want moto", c.name)
		case c.want != nil && (!ok || p != pools[*c.want]):
			t.Errorf("%s: routed to %p (%v), want the pool of %v", c.name, p, ok, *c.want)
		}
	}

	// A single-region stack serves its functions whatever region the
	// caller signs for, as before there were regions.
	single, pools := poolGateway(t, true, home)
	r := httptest.NewRequest(http.MethodPost, path(HealthCheck), nil)
	r.Header.Set("Authorization", scope("ap-south-1"))
	if p, ok := single.route(r); !ok || p != pools[home] {
		t.Errorf("single region, signed for ap-south-1: %p %v", p, ok)
	}
}

// The SDK's own requests carry the region where invokeTarget reads it.
func TestInvokeTargetReadsSDKRequests(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		region, fn, ok := invokeTarget(r)
		mu.Lock()
		got = append(got, fmt.Sprintf("%s %s %v", region, fn, ok))
		mu.Unlock()
		_, _ = io.WriteString(w, "{}")
	}))
	defer srv.Close()
	c := lambda.NewFromConfig(aws.Config{
		Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
	ctx := context.Background()
	for _, fn := range []string{HealthCheck, FunctionARN("ap-southeast-2", HealthCheck), FunctionARN("ap-southeast-2", HealthCheck) + ":$LATEST"} {
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"eu-west-1 " + HealthCheck + " true", "ap-southeast-2 " + HealthCheck + " true", "ap-southeast-2 " + HealthCheck + " true"}
	if !slices.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
}

// Only RequestResponse is served; another invocation type is refused the
// way the SDK reports a bad parameter, naming the type.
func TestGatewayRefusesOtherInvocationTypes(t *testing.T) {
	g, _ := poolGateway(t, false, poolKey{"us-east-1", HealthCheck})
	srv := httptest.NewServer(g)
	defer srv.Close()
	c := lambda.NewFromConfig(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
	for _, typ := range []lambdatypes.InvocationType{lambdatypes.InvocationTypeEvent, lambdatypes.InvocationTypeDryRun} {
		_, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(HealthCheck), InvocationType: typ, Payload: []byte(`{}`)})
		var bad *lambdatypes.InvalidParameterValueException
		if !errors.As(err, &bad) || !strings.Contains(bad.ErrorMessage(), `"`+string(typ)+`"`) {
			t.Errorf("InvocationType %s: %v", typ, err)
		}
	}
}

// The gateway answers as Lambda does: the payload; a function error with
// X-Amz-Function-Error; a response over 6 MB replaced by Lambda's function
// error; a request over 6 MB refused.
func TestGatewayAnswersAsLambda(t *testing.T) {
	g, _ := poolGateway(t, false)
	g.add("us-east-1", fakeFunction(t, HealthCheck, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch string(b) {
		case `"fail"`:
			_, _ = io.WriteString(w, `{"errorMessage":"boom","errorType":"errorString"}`)
		case `"big"`:
			_, _ = w.Write(append(append([]byte(`"`), bytes.Repeat([]byte("x"), maxPayload)...), '"'))
		default:
			_, _ = w.Write(b)
		}
	}))
	srv := httptest.NewServer(g)
	defer srv.Close()
	c := lambda.NewFromConfig(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
	ctx := context.Background()
	invoke := func(payload []byte) (*lambda.InvokeOutput, error) {
		return c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(HealthCheck), Payload: payload})
	}
	if out, err := invoke([]byte(`{"ok":1}`)); err != nil || string(out.Payload) != `{"ok":1}` || out.FunctionError != nil || aws.ToString(out.ExecutedVersion) != "$LATEST" {
		t.Errorf("echo: %+v, %v", out, err)
	}
	if out, err := invoke([]byte(`"fail"`)); err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !bytes.Contains(out.Payload, []byte("boom")) {
		t.Errorf("function error: %+v, %v", out, err)
	}
	if out, err := invoke([]byte(`"big"`)); err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !bytes.Contains(out.Payload, []byte("Function.ResponseSizeTooLarge")) {
		t.Errorf("response over 6 MB: function error %v, %d bytes, %v", aws.ToString(out.FunctionError), len(out.Payload), err)
	}
	var tooLarge *lambdatypes.RequestTooLargeException
	if _, err := invoke(bytes.Repeat([]byte(" "), maxPayload+1)); !errors.As(err, &tooLarge) {
		t.Errorf("request over 6 MB: %v", err)
	}
}

// An invoke goes to an idle instance; when every instance is busy it waits
// for one, and gives up when its context ends.
func TestPoolPicksIdleInstanceAndWaits(t *testing.T) {
	gate := make(chan struct{})
	started := make(chan string, 8)
	var served [2]atomic.Int32
	p := newPool()
	for i := range 2 {
		p.add(fakeFunction(t, HealthCheck, func(w http.ResponseWriter, r *http.Request) {
			served[i].Add(1)
			started <- fmt.Sprint(i)
			<-gate
			_, _ = io.WriteString(w, `{"instance":`+fmt.Sprint(i)+`}`)
		}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for k := range 3 {
		wg.Go(func() { _, errs[k] = p.invoke(ctx, []byte(`{}`)) })
	}
	first := []string{<-started, <-started}
	slices.Sort(first)
	if !slices.Equal(first, []string{"0", "1"}) {
		t.Fatalf("the first two invokes went to instances %v, want one each", first)
	}
	select {
	case i := <-started:
		t.Fatalf("a third invoke reached busy instance %s", i)
	case <-time.After(200 * time.Millisecond):
	}
	// Both busy: an invoke whose context ends while waiting gives up.
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err := p.invoke(short, []byte(`{}`))
	stop()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting with an ended context: %v", err)
	}
	close(gate)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := served[0].Load() + served[1].Load(); n != 3 {
		t.Fatalf("instances served %d and %d invokes, want 3 in all", served[0].Load(), served[1].Load())
	}
}

// A HealthCheck instance of a multi-region stack learns its region, the
// home and the others.
func TestRegionEnv(t *testing.T) {
	all := []string{"us-east-1", "eu-west-1"}
	home := regionEnv(Region{Name: "us-east-1"}, all)
	if want := []string{"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1", "VIGIL_HOME_REGION=us-east-1", "VIGIL_REGIONS=us-east-1,eu-west-1"}; !slices.Equal(home, want) {
		t.Errorf("home: %q", home)
	}
	probe := regionEnv(Region{Name: "eu-west-1", DNSServer: "127.0.0.1:5353"}, all)
	if want := []string{"AWS_REGION=eu-west-1", "AWS_DEFAULT_REGION=eu-west-1", "VIGIL_HOME_REGION=us-east-1", "VIGIL_REGIONS=us-east-1,eu-west-1",
		"VIGIL_HOME_FUNCTION=arn:aws:lambda:us-east-1:123456789012:function:vigil-healthcheck", "VIGIL_DNS_SERVER=127.0.0.1:5353"}; !slices.Equal(probe, want) {
		t.Errorf("probe-only region: %q", probe)
	}
	for _, bad := range [][]Region{{{Name: ""}}, {{Name: "us-east-1"}, {Name: "us-east-1"}}, {{Name: "a,b"}}} {
		if checkRegions(bad) == nil {
			t.Errorf("regions %v accepted", bad)
		}
	}
}

var requestIDRE = regexp.MustCompile(`START RequestId: (\S+)`)

// requestIDs are the invocations RIE logged for each instance.
func requestIDs(inst []*emulator.Function) [][]string {
	out := make([][]string, len(inst))
	for i, f := range inst {
		for _, m := range requestIDRE.FindAllStringSubmatch(f.Log(), -1) {
			out[i] = append(out[i], m[1])
		}
	}
	return out
}

// Two HealthCheck instances in each of two regions, the real bootstrap
// under RIE: concurrent invokes through the local Lambda service run at
// once on different instances of the home, a third waits for one of them,
// and an invoke for the other region lands there.
func TestHealthCheckPoolServesConcurrentInvokes(t *testing.T) {
	// Its own stack: it overlaps the other one that has its own.
	t.Parallel()
	s := startWith(t, Options{Functions: []string{"healthcheck"}, HealthCheckInstances: 2,
		Regions: []Region{{Name: "us-east-1"}, {Name: "eu-west-1"}}, NoMetricPublishing: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	home, eu := s.Instances("", HealthCheck), s.Instances("eu-west-1", HealthCheck)
	if len(home) != 2 || len(eu) != 2 || home[0] != s.Functions[HealthCheck] || !slices.Equal(s.Regions(), []string{"us-east-1", "eu-west-1"}) {
		t.Fatalf("%d + %d instances (the first the home's function: %v), regions %v", len(home), len(eu), home[0] == s.Functions[HealthCheck], s.Regions())
	}
	// A slow component keeps each check busy long enough for the invokes
	// to overlap.
	if err := s.Bridge(ctx, "/fault", map[string]any{"component": "orchestrator", "fault": "slow", "latency_ms": 1500}); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	event := func(k int) []byte {
		ev, _ := json.Marshal(check.Event{ScheduledTime: base.Add(time.Duration(k) * time.Minute).Format(time.RFC3339)})
		return ev
	}
	// The bridge answers each component's first request at once
	// ("initializing"): one check first, so the next ones are all slow.
	if out, err := s.InvokeHealthCheck(ctx, "", event(0)); err != nil || !json.Valid(out) {
		t.Fatalf("first invoke: %s, %v", out, err)
	}
	outs, errs := make([][]byte, 3), make([]error, 3)
	var wg sync.WaitGroup
	began := time.Now()
	for k := range 3 {
		wg.Go(func() { outs[k], errs[k] = s.InvokeHealthCheck(ctx, "", event(k+1)) })
	}
	wg.Wait()
	elapsed := time.Since(began)
	for k := range 3 {
		// What the check itself answers is the function's business;
		// here each invoke must have been answered.
		if errs[k] != nil || !json.Valid(outs[k]) {
			t.Fatalf("invoke %d: %s, %v", k, outs[k], errs[k])
		}
	}
	// The first invoke went to the first instance; of the three, each
	// instance served at least one, and none served two at once: three
	// checks of 1.5 s on two instances take two rounds.
	ids := requestIDs(home)
	if len(ids[0]) < 2 || len(ids[1]) == 0 || len(ids[0])+len(ids[1]) != 4 {
		t.Errorf("home instances served %q, want 1 + 3 invocations, the three on both", ids)
	}
	if elapsed < 3*time.Second {
		t.Errorf("three 1.5 s checks on two instances took %s", elapsed)
	}
	all := slices.Concat(ids...)
	if slices.Sort(all); len(slices.Compact(all)) != 4 {
		t.Errorf("request ids %v, want 4 distinct", all)
	}
	if ids := requestIDs(eu); len(ids[0])+len(ids[1]) != 0 {
		t.Errorf("eu-west-1 served %q of the home's invokes", ids)
	}

	if out, err := s.InvokeHealthCheck(ctx, "eu-west-1", event(4)); err != nil || !json.Valid(out) {
		t.Fatalf("invoke in eu-west-1: %s, %v", out, err)
	}
	// (A probe-only region's check may go on to invoke the home's function
	// to decide its tick: the home's count is not this test's.)
	if ids := requestIDs(eu); len(ids[0]) != 1 || len(ids[1]) != 0 {
		t.Errorf("eu-west-1's instances served %q, want one invocation on the first", ids)
	}
	if _, err := s.InvokeHealthCheck(ctx, "ap-south-1", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "ap-south-1") {
		t.Errorf("a region the stack does not run: %v", err)
	}

	// NoMetricPublishing: the checks' EMF documents are counted, and moto's
	// CloudWatch never sees them.
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := s.metrics.waitDocuments(wctx, 1); err != nil {
		t.Fatal(err)
	}
	list, err := s.Clients.CloudWatch.ListMetrics(ctx, &cloudwatch.ListMetricsInput{})
	if err != nil || len(list.Metrics) != 0 {
		t.Errorf("published with NoMetricPublishing: %d metrics, %v", len(list.Metrics), err)
	}
}
