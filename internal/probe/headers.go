package probe

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/vigil-monitor/vigil/internal/config"
)

// HeaderResolver resolves secret headers at run time (implemented by
// *secret.Resolver).
type HeaderResolver interface {
	Headers(ctx context.Context, plain map[string]string, secrets map[string]config.SecretRef) (http.Header, error)
}

// SecretHeaders resolves the secret headers of each component, in the order of
// comps, as Run takes them. Components without secret headers get nil. One
// whose secrets cannot be resolved is probed without them and logged by
// secret name, never value: the probe then fails on the target's answer,
// which is recorded like any other failure.
func SecretHeaders(ctx context.Context, r HeaderResolver, comps []config.Component, log *slog.Logger) []http.Header {
	out := make([]http.Header, len(comps))
	if r == nil {
		return out
	}
	for i, c := range comps {
		var plain map[string]string
		var secrets map[string]config.SecretRef
		switch {
		case c.WebSocket != nil:
			plain, secrets = c.WebSocket.Headers, c.WebSocket.SecretHeaders
		case c.HTTP != nil:
			plain, secrets = c.HTTP.Headers, c.HTTP.SecretHeaders
		}
		if len(secrets) == 0 {
			continue
		}
		hdr, err := r.Headers(ctx, plain, secrets)
		if err != nil {
			log.Error("resolve secret headers failed", "component", c.Name, "error", err)
			continue
		}
		out[i] = hdr
	}
	return out
}
