package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vigil-monitor/vigil/internal/emulator"
)

// lambdaGateway stands for the Lambda service of every local region. It
// listens where moto's Step Functions interpreter sends its service calls
// (moto's MOTO_PORT), and the HealthCheck functions reach it as their Lambda
// endpoint (AWS_ENDPOINT_URL_LAMBDA). A Lambda Invoke of a function it runs
// goes to an idle instance of that function's pool in the request's region —
// the real bootstrap under the Runtime Interface Emulator, one invocation at
// a time per instance, like a Lambda sandbox; every other call goes on to
// moto. This is what lets a state machine executed by moto run the real
// Recovery function, Wait states included, and the HealthCheck coordinator
// fan its shards out to instances of itself.
type lambdaGateway struct {
	// home is the region of a request that names none.
	home string
	// anyRegion routes a request of any region to the home's pools: a
	// single-region stack answers whatever region the caller signs for,
	// as it always did.
	anyRegion bool
	moto      *httputil.ReverseProxy

	mu    sync.Mutex
	pools map[poolKey]*pool
}

// poolKey names one function of one region.
type poolKey struct{ region, function string }

func newLambdaGateway(motoEndpoint, home string, anyRegion bool) (*lambdaGateway, error) {
	u, err := url.Parse(motoEndpoint)
	if err != nil {
		return nil, err
	}
	return &lambdaGateway{home: home, anyRegion: anyRegion, moto: httputil.NewSingleHostReverseProxy(u), pools: map[poolKey]*pool{}}, nil
}

// add makes f one more instance of its function in region.
func (g *lambdaGateway) add(region string, f *emulator.Function) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := poolKey{region, f.Name}
	p := g.pools[k]
	if p == nil {
		p = newPool()
		g.pools[k] = p
	}
	p.add(f)
}

// instances returns the instances of function in region, in the order they
// were added.
func (g *lambdaGateway) instances(region, function string) []*emulator.Function {
	g.mu.Lock()
	p := g.pools[poolKey{region, function}]
	g.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.list()
}

func (g *lambdaGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := g.route(r)
	if !ok || r.Method != http.MethodPost {
		g.moto.ServeHTTP(w, r)
		return
	}
	// Only synchronous invokes are served: the HealthCheck fan-out invokes
	// its shards (and a probe-only region its home) with RequestResponse,
	// and Step Functions' lambda:invoke task does too. Event (asynchronous)
	// and DryRun would need a queue and a permission check this stand-in
	// does not have; they are refused as Lambda refuses a bad parameter.
	if t := r.Header.Get("X-Amz-Invocation-Type"); t != "" && t != "RequestResponse" {
		lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", "User",
			fmt.Sprintf("InvocationType %q is not supported by the local Lambda gateway: only RequestResponse is", t))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", "User", err.Error())
		return
	}
	if len(body) > maxPayload {
		lambdaError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "User",
			fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", maxPayload))
		return
	}
	payload, err := p.invoke(r.Context(), body)
	if err != nil && payload == nil {
		lambdaError(w, http.StatusInternalServerError, "ServiceException", "Service", err.Error())
		return
	}
	if len(payload) > maxPayload {
		// Lambda drops a response this large and reports a function error.
		payload, _ = json.Marshal(map[string]string{
			"errorType":    "Function.ResponseSizeTooLarge",
			"errorMessage": fmt.Sprintf("Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).", len(payload), maxPayload),
		})
	}
	if bytes.Contains(payload, []byte(`"errorType"`)) {
		// The runtime reported a function error: Lambda answers 200 with
		// this header, and Step Functions raises it as the task's error.
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	_, _ = w.Write(payload)
}

// maxPayload is Lambda's limit on a synchronous invocation's request and
// response payloads, 6 MB: what a shard returns to its coordinator must fit.
const maxPayload = 6 << 20

// lambdaError answers as the Lambda API reports an error: the error type in
// X-Amzn-ErrorType, which the SDKs read, and a JSON body.
func lambdaError(w http.ResponseWriter, status int, errorType, kind, message string) {
	body, _ := json.Marshal(map[string]string{"Type": kind, "message": message})
	w.Header().Set("X-Amzn-ErrorType", errorType)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// route finds the pool a Lambda Invoke request is for; ok is false for any
// other request, and for a function this gateway does not run.
func (g *lambdaGateway) route(r *http.Request) (*pool, bool) {
	region, function, ok := invokeTarget(r)
	if !ok {
		return nil, false
	}
	if region == "" {
		region = g.home
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.pools[poolKey{region, function}]
	if !ok && g.anyRegion {
		p, ok = g.pools[poolKey{g.home, function}]
	}
	return p, ok
}

// invokePrefix and invokeSuffix frame the function of a Lambda Invoke:
// /2015-03-31/functions/{name, partial ARN or ARN, maybe qualified}/invocations.
const invokePrefix, invokeSuffix = "/2015-03-31/functions/", "/invocations"

// invokeTarget reads the region and function name of a Lambda Invoke
// request. The region is the ARN's when the path holds an ARN, else the
// SigV4 credential scope's (Credential=AKID/date/REGION/lambda/aws4_request,
// in the Authorization header or a presigned URL's X-Amz-Credential), else
// "" (the caller's default). ok is false when r is no Invoke.
func invokeTarget(r *http.Request) (region, function string, ok bool) {
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, invokePrefix) || !strings.HasSuffix(p, invokeSuffix) || len(p) <= len(invokePrefix)+len(invokeSuffix) {
		return "", "", false
	}
	name, err := url.PathUnescape(p[len(invokePrefix) : len(p)-len(invokeSuffix)])
	if err != nil || name == "" {
		return "", "", false
	}
	// arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
	if f := strings.Split(name, ":"); len(f) >= 7 && f[0] == "arn" && f[2] == "lambda" && f[5] == "function" {
		region = f[3]
	}
	if i := strings.LastIndex(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	} else {
		name = strings.TrimPrefix(name, "function:")
	}
	name, _, _ = strings.Cut(name, ":") // drop a qualifier
	if name == "" {
		return "", "", false
	}
	if region == "" {
		region = scopeRegion(r)
	}
	return region, name, true
}

// scopeRegion is the region of the request's SigV4 credential scope, or "".
func scopeRegion(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if auth := r.Header.Get("Authorization"); auth != "" {
		_, after, found := strings.Cut(auth, "Credential=")
		if !found {
			return ""
		}
		cred, _, _ = strings.Cut(after, ",")
	}
	// AKID/DATE/REGION/SERVICE/aws4_request
	f := strings.Split(strings.TrimSpace(cred), "/")
	if len(f) != 5 || f[4] != "aws4_request" {
		return ""
	}
	return f[2]
}

// pool is the running instances of one function in one region: an invoke
// goes to an idle one, and waits for one to become idle when all are busy.
type pool struct {
	mu        sync.Mutex
	instances []*emulator.Function
	// freed is closed, and replaced, whenever an invocation through the
	// pool ends.
	freed chan struct{}
}

func newPool() *pool { return &pool{freed: make(chan struct{})} }

func (p *pool) add(f *emulator.Function) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.instances = append(p.instances, f)
}

func (p *pool) list() []*emulator.Function {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*emulator.Function(nil), p.instances...)
}

// busyPoll bounds the wait for an instance that a caller invoked directly
// (Stack.Invoke), not through the pool, which does not signal freed.
const busyPoll = 20 * time.Millisecond

// invoke sends event to the first idle instance, waiting while none is, or
// until ctx ends.
func (p *pool) invoke(ctx context.Context, event []byte) ([]byte, error) {
	for {
		p.mu.Lock()
		freed, instances := p.freed, p.instances
		p.mu.Unlock()
		for _, f := range instances {
			if payload, ok, err := f.TryInvoke(ctx, event); ok {
				p.mu.Lock()
				close(p.freed)
				p.freed = make(chan struct{})
				p.mu.Unlock()
				return payload, err
			}
		}
		t := time.NewTimer(busyPoll)
		select {
		case <-freed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("localrun: waiting for an idle instance: %w", ctx.Err())
		}
		t.Stop()
	}
}
