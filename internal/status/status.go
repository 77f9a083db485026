// Package status is the Status Lambda behind its function URL (SPEC §7): the
// current status as JSON, or the Markdown health report, for every
// integration or one. It reads DynamoDB only — one Query for all, one GetItem
// for one — and never probes.
package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/report"
	"github.com/vigil-monitor/vigil/internal/requestid"
	"github.com/vigil-monitor/vigil/internal/store"
)

// RecordReader reads stored records; *store.Store satisfies it. Get must
// return an error wrapping store.ErrNotFound when nothing is stored, and Get
// and List one wrapping store.ErrMalformed for an unreadable item. List
// returns the readable records beside that error, which holds a
// *store.MalformedError for each unreadable item (store.MalformedItems): the
// answer shows the readable ones and names the others.
type RecordReader interface {
	Get(ctx context.Context, integration string) (health.Record, error)
	List(ctx context.Context) ([]health.Record, error)
}

var _ RecordReader = (*store.Store)(nil)

// Query parameters and formats.
const (
	ParamIntegration = "integration"
	ParamFormat      = "format"
	FormatJSON       = "json"
	FormatMarkdown   = "markdown"
)

// Content types of the answers.
const (
	ContentJSON     = "application/json; charset=utf-8"
	ContentMarkdown = "text/markdown; charset=utf-8"
)

// Handler answers function URL requests. Set every field before the first
// request; it is safe for concurrent use.
type Handler struct {
	Store  RecordReader
	Config func(ctx context.Context) (*config.Document, error)
	// Now stamps the report; nil means time.Now. The status query's own
	// duration is measured on the monotonic clock regardless.
	Now    func() time.Time
	Logger *slog.Logger
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

// Handle answers one GET: query parameters integration=NAME (optional) and
// format=json|markdown (default json). Client mistakes are 4xx answers with a
// JSON error; only a failure to build the answer at all returns an error.
//
// A malformed stored record does not hide the others: the answer for all
// integrations is 200 with every readable one and a note naming each
// unreadable record and why (report.Unreadable), and 500 only when no
// record at all could be read. A single integration's unreadable record is
// a 500 naming the problem.
func (h *Handler) Handle(ctx context.Context, req events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	start := time.Now()
	log := h.logger(ctx)

	if m := req.RequestContext.HTTP.Method; m != http.MethodGet {
		resp := h.fail(log, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed; use GET", m))
		resp.Headers["Allow"] = http.MethodGet
		return resp, nil
	}
	var unknown []string
	for k := range req.QueryStringParameters {
		if k != ParamIntegration && k != ParamFormat {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return h.fail(log, http.StatusBadRequest, fmt.Sprintf("unknown query parameter %s; use integration and format", bound.Quote(unknown[0]))), nil
	}
	format := FormatJSON
	if f, ok := req.QueryStringParameters[ParamFormat]; ok {
		format = f
	}
	if format != FormatJSON && format != FormatMarkdown {
		return h.fail(log, http.StatusBadRequest, fmt.Sprintf("format must be json or markdown, not %s", bound.Quote(format))), nil
	}
	name, one := req.QueryStringParameters[ParamIntegration]
	if one && name == "" {
		return h.fail(log, http.StatusBadRequest, "integration must name an integration"), nil
	}
	if one && len(name) > config.MaxNameLen {
		// No integration has such a name; refused before it reaches a
		// log line or a DynamoDB key.
		return h.fail(log, http.StatusNotFound, fmt.Sprintf("unknown integration %s", bound.Quote(name))), nil
	}
	log = log.With("format", format)
	if one {
		log = log.With("integration", name)
	}

	doc, err := h.Config(ctx)
	if err != nil {
		log.Error("status: load config", "error", err)
		return h.fail(log, http.StatusInternalServerError, "configuration could not be loaded; see the function's logs"), nil
	}

	var recs []health.Record
	var unreadable []report.Unreadable
	if one {
		rec, err := h.Store.Get(ctx, name)
		inConfig := slices.ContainsFunc(doc.Integrations, func(in config.Integration) bool { return in.Name == name })
		switch {
		case errors.Is(err, store.ErrNotFound) && !inConfig:
			return h.fail(log, http.StatusNotFound, fmt.Sprintf("unknown integration %s", bound.Quote(name))), nil
		case errors.Is(err, store.ErrNotFound):
			// Configured but never checked: the report says so.
		case errors.Is(err, store.ErrMalformed):
			log.Error("status: malformed stored record", "error", err)
			return h.fail(log, http.StatusInternalServerError, fmt.Sprintf("stored record of integration %q is malformed and was left untouched: %s", name, bound.Text(err.Error(), bound.Message))), nil
		case err != nil:
			log.Error("status: read record", "error", err)
			return h.fail(log, http.StatusInternalServerError, fmt.Sprintf("reading the record of integration %q failed; see the function's logs", name)), nil
		default:
			recs = []health.Record{rec}
		}
		doc = only(doc, name)
	} else {
		recs, err = h.Store.List(ctx)
		bad := store.MalformedItems(err)
		switch {
		case errors.Is(err, store.ErrMalformed) && len(bad) > 0:
			// The readable records are true: report them, and name each
			// unreadable one with why, rather than fail the whole fleet.
			log.Error("status: malformed stored records", "count", len(bad), "error", bound.Text(err.Error(), bound.Message))
			for _, b := range bad {
				unreadable = append(unreadable, report.Unreadable{Integration: b.Integration, Error: strings.Join(b.Problems, "; ")})
			}
			if len(recs) == 0 {
				return h.fail(log, http.StatusInternalServerError, "no stored record could be read, and the malformed ones were left untouched: "+bound.Text(err.Error(), bound.Message)), nil
			}
		case errors.Is(err, store.ErrMalformed):
			log.Error("status: malformed stored records", "error", err)
			return h.fail(log, http.StatusInternalServerError, "malformed stored records were left untouched: "+bound.Text(err.Error(), bound.Message)), nil
		case err != nil:
			log.Error("status: list records", "error", err)
			return h.fail(log, http.StatusInternalServerError, "reading the records failed; see the function's logs"), nil
		}
	}

	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	opts := []report.Option{report.WithStatusQuery(time.Since(start)), report.WithUnreadable(unreadable)}
	var body bytes.Buffer
	contentType := ContentJSON
	if format == FormatMarkdown {
		contentType = ContentMarkdown
		if err := report.Markdown(&body, recs, doc, now, opts...); err != nil {
			return events.LambdaFunctionURLResponse{}, fmt.Errorf("status: render markdown: %w", err)
		}
	} else {
		enc := json.NewEncoder(&body)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report.JSON(recs, doc, now, opts...)); err != nil {
			return events.LambdaFunctionURLResponse{}, fmt.Errorf("status: render json: %w", err)
		}
	}
	log.Info("status answered", "status", http.StatusOK, "integrations", len(recs), "unreadable", len(unreadable), "elapsed_ms", float64(time.Since(start))/float64(time.Millisecond))
	return respond(http.StatusOK, contentType, body.String()), nil
}

// only narrows doc to the named integration, so a one-integration report
// does not list the others as never checked. doc is not modified.
func only(doc *config.Document, name string) *config.Document {
	out := &config.Document{Namespace: doc.Namespace}
	for _, in := range doc.Integrations {
		if in.Name == name {
			out.Integrations = append(out.Integrations, in)
		}
	}
	return out
}

func (h *Handler) logger(ctx context.Context) *slog.Logger {
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	if id := requestid.FromContext(ctx); id != "" {
		log = log.With("request_id", id)
	}
	return log
}

func (h *Handler) fail(log *slog.Logger, code int, msg string) events.LambdaFunctionURLResponse {
	log.Warn("status refused", "status", code, "reason", msg)
	b, err := json.Marshal(errorBody{Error: msg})
	if err != nil {
		b = []byte(`{"error":"internal error"}`)
	}
	return respond(code, ContentJSON, string(b)+"\n")
}

func respond(code int, contentType, body string) events.LambdaFunctionURLResponse {
	return events.LambdaFunctionURLResponse{
		StatusCode: code,
		Headers: map[string]string{
			"Content-Type":           contentType,
			"Cache-Control":          "no-store",
			"X-Content-Type-Options": "nosniff",
		},
		Body: body,
	}
}
