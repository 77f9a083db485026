package localrun

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/vigil-monitor/vigil/internal/emulator"
)

// lambdaGateway stands where moto's Step Functions interpreter sends its
// service calls (moto's MOTO_PORT). Lambda invokes of functions it knows go to
// the real bootstrap under the Runtime Interface Emulator; every other call
// goes on to moto. This is what lets a state machine executed by moto run the
// real Recovery function, Wait states included.
type lambdaGateway struct {
	functions map[string]*emulator.Function // by function name
	moto      *httputil.ReverseProxy
}

func newLambdaGateway(motoEndpoint string, functions map[string]*emulator.Function) (*lambdaGateway, error) {
	u, err := url.Parse(motoEndpoint)
	if err != nil {
		return nil, err
	}
	return &lambdaGateway{functions: functions, moto: httputil.NewSingleHostReverseProxy(u)}, nil
}

func (g *lambdaGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if fn, ok := g.function(r); ok && r.Method == http.MethodPost {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		payload, err := fn.Invoke(r.Context(), body)
		if err != nil && payload == nil {
			w.Header().Set("X-Amzn-ErrorType", "ServiceException")
			http.Error(w, `{"Type":"Service","message":"`+strings.ReplaceAll(err.Error(), `"`, `'`)+`"}`, http.StatusInternalServerError)
			return
		}
		if bytes.Contains(payload, []byte(`"errorType"`)) {
			// The runtime reported a function error: Lambda answers 200 with
			// this header, and Step Functions raises it as the task's error.
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		_, _ = w.Write(payload)
		return
	}
	g.moto.ServeHTTP(w, r)
}

// function maps /2015-03-31/functions/{name or ARN}/invocations to a running
// function.
func (g *lambdaGateway) function(r *http.Request) (*emulator.Function, bool) {
	p := r.URL.EscapedPath()
	const prefix, suffix = "/2015-03-31/functions/", "/invocations"
	if !strings.HasPrefix(p, prefix) || !strings.HasSuffix(p, suffix) {
		return nil, false
	}
	name, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(p, prefix), suffix))
	if err != nil {
		return nil, false
	}
	if i := strings.LastIndex(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	name, _, _ = strings.Cut(name, ":") // drop a qualifier
	fn, ok := g.functions[name]
	return fn, ok
}
