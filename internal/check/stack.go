package check

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/vigil-monitor/vigil/internal/alerting"
	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/netguard"
)

// StackEvent is a CloudFormation custom resource request (template.yaml's
// AlertingCleanup): the stack's alarms and dashboard are made at run time,
// so CloudFormation does not know them; on Delete the HealthCheck function
// removes them.
type StackEvent = cfn.Event

// StackResponder sends a custom resource's answer to CloudFormation's
// pre-signed response URL (implemented by HTTPSResponder).
type StackResponder interface {
	Respond(ctx context.Context, responseURL string, body []byte) error
}

// HTTPSResponder PUTs answers to https URLs only, through the guarded
// client every outbound request of Vigil uses (no redirects).
type HTTPSResponder struct {
	// Policy allows refused destinations; zero in production (the URL is
	// S3's). A local test's server is on loopback, with its own
	// certificate.
	Policy             netguard.Policy
	InsecureSkipVerify bool
}

// maxResponseBody bounds what is read of the response URL's answer.
const maxResponseBody = 64 << 10

// Respond PUTs body to responseURL and wants a 200.
func (r HTTPSResponder) Respond(ctx context.Context, responseURL string, body []byte) error {
	u, err := url.Parse(responseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("check: %w: ResponseURL %s is not an https URL", ErrBadEvent, bound.Quote(responseURL))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("check: answer CloudFormation: %w", err)
	}
	// The pre-signed URL was signed without a content type.
	req.Header.Del("Content-Type")
	client := netguard.NewClient(ctx, netguard.ClientOptions{Policy: r.Policy, InsecureSkipVerify: r.InsecureSkipVerify, MaxRedirects: -1})
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("check: answer CloudFormation: %w", errors.New(bound.Text(err.Error(), bound.Error)))
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, maxResponseBody))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("check: answer CloudFormation: status %d: %s", res.StatusCode, bound.Quote(string(msg)))
	}
	return nil
}

// stackRequest answers a custom resource request: Delete removes the
// stack's integration alarms and dashboard and forgets the applied plan (so
// a stack that lives on converges again); Create and Update change nothing.
// A failed removal answers FAILED with the reason, so CloudFormation stops
// rather than leave alarms behind silently.
func (h *Handler) stackRequest(ctx context.Context, ev *StackEvent) (Result, error) {
	log := h.logger().With("stack_request", ev.RequestType, "logical_id", bound.Text(ev.LogicalResourceID, bound.Value))
	switch ev.RequestType {
	case cfn.RequestCreate, cfn.RequestUpdate, cfn.RequestDelete:
	default:
		return Result{}, fmt.Errorf("check: %w: custom resource request type %s", ErrBadEvent, bound.Quote(string(ev.RequestType)))
	}
	if h.Responder == nil {
		return Result{}, fmt.Errorf("check: %w: custom resource requests need a responder", ErrBadEvent)
	}
	res := cfn.NewResponse(ev)
	res.Status, res.PhysicalResourceID = cfn.StatusSuccess, ev.PhysicalResourceID
	if res.PhysicalResourceID == "" {
		res.PhysicalResourceID = "vigil-alerting"
	}
	out := Result{Alerting: &AlertingResult{Changes: []alerting.Change{}}}
	if ev.RequestType == cfn.RequestDelete && h.Alerting != nil {
		changes, err := h.Alerting.Remove(ctx)
		out.Alerting.Changes = append(out.Alerting.Changes, changes...)
		if err == nil {
			err = h.Store.ClearApplied(ctx, h.now())
		}
		if err != nil {
			out.Alerting.Error = err.Error()
			res.Status, res.Reason = cfn.StatusFailed, bound.Text(fmt.Sprintf("removing the alarms and dashboard Vigil made: %v", err), bound.Message)
			log.Error("stack cleanup failed", "error", err)
		} else {
			log.Info("stack cleanup done", "removed", len(changes))
		}
	}
	body, err := json.Marshal(res)
	if err != nil {
		return out, fmt.Errorf("check: encode custom resource answer: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.Responder.Respond(rctx, ev.ResponseURL, body); err != nil {
		log.Error("answer CloudFormation failed", "error", err)
		return out, err
	}
	return out, nil
}
