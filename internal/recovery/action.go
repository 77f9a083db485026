package recovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/vigil-monitor/vigil/internal/config"
)

// Action defaults, used when a configuration reaches the handler without
// its defaults filled (config fills them at load).
const (
	defaultWebhookTimeout = 10 * time.Second
	defaultWebhookMethod  = http.MethodPost
	// maxErrorBody caps what is read of a webhook answer or a function's
	// error payload; only a short excerpt ever reaches an error message.
	maxErrorBody = 64 << 10
	// maxExcerpt caps an excerpt quoted in an error message.
	maxExcerpt = 200
	userAgent  = "Vigil-Recovery/1"
)

// LambdaAPI is the part of the Lambda client the Lambda action needs;
// *lambda.Client satisfies it.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

var _ LambdaAPI = (*lambda.Client)(nil)

// actionPayload is the default body of a webhook and payload of a Lambda
// action: what the receiver needs to act once per attempt.
type actionPayload struct {
	Integration    string `json:"integration"`
	IncidentID     string `json:"incident_id"`
	Attempt        int    `json:"attempt"`
	IdempotencyKey string `json:"idempotency_key"`
}

// IdempotencyKey is the key a recovery action receives for one attempt of
// one incident, as the Idempotency-Key header of a webhook and in the
// default payload: a receiver that sees it twice may skip the second.
func IdempotencyKey(incidentID string, attempt int) string {
	return fmt.Sprintf("%s-%d", incidentID, attempt)
}

// runWebhook calls the webhook once. A failure (refused destination,
// timeout, unexpected status) is returned as an error whose text names the
// cause and never a header value.
func runWebhook(ctx context.Context, w *config.Webhook, secret http.Header, p actionPayload) error {
	timeout := w.Timeout.D()
	if timeout <= 0 {
		timeout = defaultWebhookTimeout
	}
	budget := timeout
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, max(time.Until(dl), 0))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	method := w.Method
	if method == "" {
		method = defaultWebhookMethod
	}
	var body io.Reader = http.NoBody
	contentType := ""
	switch {
	case w.Body != "":
		body = strings.NewReader(w.Body)
	case method != http.MethodGet && method != http.MethodHead && method != http.MethodDelete && method != http.MethodOptions:
		b, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("webhook: encode payload: %w", err)
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, w.URL, body)
	if err != nil {
		return fmt.Errorf("webhook: build request: %w", err)
	}
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	if contentType != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range secret {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	req.Header.Set("Idempotency-Key", p.IdempotencyKey)
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent)
	}

	resp, err := webhookClient(ctx, w.AllowLoopback).Do(req)
	if err != nil {
		return errors.New(redact("webhook: "+describe(err, budget), secret))
	}
	defer resp.Body.Close()
	// Drain a little so the server sees a complete exchange; the body
	// itself is not judged.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	want := w.ExpectedStatus
	if len(want) == 0 {
		want = []int{http.StatusOK, http.StatusAccepted, http.StatusNoContent}
	}
	if !slices.Contains(want, resp.StatusCode) {
		return fmt.Errorf("webhook: status %d, want one of %v", resp.StatusCode, want)
	}
	return nil
}

// webhookClient returns a client for one webhook call. Every dial is checked
// after DNS resolution: link-local and instance-metadata addresses are always
// refused (a recovery action has no business there), loopback unless the
// webhook allows it (SPEC §10). Redirects are not followed, so a redirect
// cannot lead the call to a refused place; its status is judged like any
// other. The connection lives for this call only.
func webhookClient(ctx context.Context, allowLoopback bool) *http.Client {
	d := &net.Dialer{
		KeepAlive: -1,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: unparsable address %q", config.ErrRefusedDestination, address)
			}
			return config.CheckAddr(ap.Addr(), allowLoopback, false)
		},
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
				// Bound to the call's context, deadline included: the
				// transport detaches dials from the request context.
				return d.DialContext(ctx, network, addr)
			},
			DisableKeepAlives:   true,
			TLSHandshakeTimeout: defaultWebhookTimeout,
			ForceAttemptHTTP2:   true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// runLambda invokes the action's function synchronously once. A function
// error (FunctionError set) is a failed action, with the function's error
// message quoted.
func runLambda(ctx context.Context, client LambdaAPI, a *config.LambdaAction, p actionPayload) error {
	if client == nil {
		return errors.New("lambda action: no Lambda client configured")
	}
	payload := []byte(a.Payload)
	if len(payload) == 0 {
		b, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("lambda action: encode payload: %w", err)
		}
		payload = b
	}
	out, err := client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(a.FunctionName),
		InvocationType: lambdatypes.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("lambda action: invoke %s: timed out", a.FunctionName)
		}
		return fmt.Errorf("lambda action: invoke %s: %w", a.FunctionName, err)
	}
	return invokeError(a.FunctionName, out)
}

// invokeError judges a synchronous Invoke's answer.
func invokeError(name string, out *lambda.InvokeOutput) error {
	if out.FunctionError != nil {
		msg := *out.FunctionError
		var fe struct {
			ErrorMessage string `json:"errorMessage"`
			ErrorType    string `json:"errorType"`
		}
		if json.Unmarshal(out.Payload, &fe) == nil && fe.ErrorMessage != "" {
			msg = fmt.Sprintf("%s: %s", msg, excerpt(fe.ErrorMessage))
		}
		return fmt.Errorf("lambda action: %s failed: %s", name, msg)
	}
	if out.StatusCode < 200 || out.StatusCode > 299 {
		return fmt.Errorf("lambda action: %s answered status %d", name, out.StatusCode)
	}
	return nil
}

// describe turns an HTTP client error into a short cause; the URL is in the
// configuration already.
func describe(err error, budget time.Duration) string {
	var netErr net.Error
	var urlErr *url.Error
	cause := err
	if errors.As(err, &urlErr) {
		cause = urlErr.Err
	}
	switch {
	case errors.Is(err, config.ErrRefusedDestination):
		return cause.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("timeout after %s", budget.Round(time.Millisecond))
	case errors.Is(err, context.Canceled):
		return "canceled before completion"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server before a complete response"
	}
	return cause.Error()
}

// redact removes every secret header value from msg.
func redact(msg string, secret http.Header) string {
	for _, vs := range secret {
		for _, v := range vs {
			if v != "" {
				msg = strings.ReplaceAll(msg, v, "[redacted]")
			}
		}
	}
	return msg
}

// excerpt shortens s for an error message.
func excerpt(s string) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= maxExcerpt {
		return string(r)
	}
	return string(r[:maxExcerpt]) + "…"
}
