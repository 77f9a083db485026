package probe

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"slices"

	"github.com/vigil-monitor/vigil/internal/config"
)

// HeaderResolver resolves secret headers at run time (implemented by
// *secret.Resolver).
type HeaderResolver interface {
	Headers(ctx context.Context, plain map[string]string, secrets map[string]config.SecretRef) (http.Header, error)
}

// Headers is one component's secret headers as Run takes them: resolved,
// or the names of those that could not be.
type Headers struct {
	// Header holds the resolved secret headers, set over the component's
	// plain headers when it is probed; nil when it has none. Their values
	// never appear in a Result.
	Header http.Header
	// Unresolved names, sorted, the secret headers that could not be
	// resolved. Run does not probe a component with any: probing without
	// the secret would only earn a 401 counted against the target.
	Unresolved []string
}

// SecretHeaders resolves the secret headers of each component, in the order of
// comps, as Run takes them. A component without secret headers gets the zero
// Headers. One whose secrets cannot all be resolved — r failed, or r is nil —
// gets the names of those that could not be in Unresolved, and each failure
// is logged by header name and cause, never value.
func SecretHeaders(ctx context.Context, r HeaderResolver, comps []config.Component, log *slog.Logger) []Headers {
	out := make([]Headers, len(comps))
	for i, c := range comps {
		secrets := secretRefs(c)
		if len(secrets) == 0 {
			continue
		}
		names := slices.Sorted(maps.Keys(secrets))
		if r == nil {
			log.Error("secret headers not resolved: no secret resolver", "component", c.Name, "headers", names)
			out[i].Unresolved = names
			continue
		}
		// One header at a time, so a failure names its header. A resolver
		// fetches each secret on its own anyway: this costs no extra
		// request.
		h := make(http.Header, len(secrets))
		for _, name := range names {
			v, err := r.Headers(ctx, nil, map[string]config.SecretRef{name: secrets[name]})
			if err != nil {
				log.Error("resolve secret header failed", "component", c.Name, "header", name, "error", err)
				out[i].Unresolved = append(out[i].Unresolved, name)
				continue
			}
			for k, vs := range v {
				h[k] = vs
			}
		}
		if len(out[i].Unresolved) == 0 {
			out[i].Header = h
		}
	}
	return out
}

// secretRefs returns the component's secret headers, by header name.
func secretRefs(c config.Component) map[string]config.SecretRef {
	switch {
	case c.WebSocket != nil:
		return c.WebSocket.SecretHeaders
	case c.HTTP != nil:
		return c.HTTP.SecretHeaders
	}
	return nil
}
