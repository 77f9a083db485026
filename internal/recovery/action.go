package recovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/netguard"
	"github.com/vigil-monitor/vigil/internal/probe"
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

// runWebhook calls the webhook once, through netguard's client: every
// dial checked after DNS resolution (link-local and instance metadata
// always refused, loopback unless the webhook allows it, SPEC §10), the
// connection bound to the call's deadline, TLS 1.2 at least, response
// headers capped. Redirects are not followed, so a redirect cannot lead the
// call anywhere; its status is judged like any other.
//
// A failure (refused destination, timeout, unexpected status) is returned
// as an error whose text names the cause and never a header value; a
// refusal by the guard is a *netguard.RefusedError to errors.As.
func runWebhook(ctx context.Context, w *config.Webhook, secret http.Header, p actionPayload) error {
	timeout := w.Timeout.D()
	if timeout <= 0 {
		timeout = defaultWebhookTimeout
	}
	budget := timeout
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, max(time.Until(dl), 0)).Round(time.Millisecond)
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

	client := netguard.NewClient(ctx, netguard.ClientOptions{
		Policy:       netguard.Policy{AllowLoopback: w.AllowLoopback},
		MaxRedirects: -1,
		Secret:       secret,
	})
	resp, err := client.Do(req)
	if err != nil {
		return webhookFailure(err, budget, secret)
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

// webhookFailure words a failed call the way a failed probe is worded
// (probe.Classify, without phases), secret header values redacted. A
// refusal by the guard stays typed: its text names an address, never a
// header value.
func webhookFailure(err error, budget time.Duration, secret http.Header) error {
	var refused *netguard.RefusedError
	if errors.As(err, &refused) {
		return fmt.Errorf("webhook: %w", refused)
	}
	_, cause := probe.Classify(err, "", budget)
	return errors.New(netguard.Redact("webhook: "+cause, secret))
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

// excerpt shortens s for an error message.
func excerpt(s string) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= maxExcerpt {
		return string(r)
	}
	return string(r[:maxExcerpt]) + "…"
}
