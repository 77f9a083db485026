package probe

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-monitor/vigil/internal/config"
)

// fakeResolver resolves SSM references from a map, as *secret.Resolver does
// from SSM: one secret per reference, an error naming the header for a
// reference it lacks.
type fakeResolver struct {
	values map[string]string // SSM name → value
}

var _ HeaderResolver = (*fakeResolver)(nil)

func (f *fakeResolver) Headers(_ context.Context, plain map[string]string, secrets map[string]config.SecretRef) (http.Header, error) {
	h := make(http.Header)
	for k, v := range plain {
		h.Set(k, v)
	}
	for k, ref := range secrets {
		v, ok := f.values[ref.SSM]
		if !ok {
			return nil, fmt.Errorf("secret: header %s: parameter %s not found", k, ref.SSM)
		}
		h.Set(k, v)
	}
	return h, nil
}

const secretValue = "s3cr3t-token-value-0123456789"

// secretComponents returns components covering every shape of secret
// headers, pointed at target.
func secretComponents(target string) []config.Component {
	withSecrets := func(name string, secrets map[string]config.SecretRef) config.Component {
		c := httpComponent(target+"/"+name, config.HTTPProbe{Headers: map[string]string{"X-Plain": "p"}, SecretHeaders: secrets})
		c.Name = name
		return c
	}
	ws := wsComponent(strings.Replace(target, "http", "ws", 1)+"/ws", config.WebSocketProbe{SecretHeaders: map[string]config.SecretRef{"X-Key": {SSM: "/ok"}}})
	ws.Name = "ws"
	return []config.Component{
		withSecrets("plain", nil),
		withSecrets("ok", map[string]config.SecretRef{"Authorization": {SSM: "/ok"}}),
		ws,
		withSecrets("one-missing", map[string]config.SecretRef{"Authorization": {SSM: "/ok"}, "X-Key": {SSM: "/gone"}}),
		withSecrets("all-missing", map[string]config.SecretRef{"X-B": {SecretsManager: "b"}, "X-A": {SSM: "/gone"}}),
	}
}

func TestSecretHeaders(t *testing.T) {
	comps := secretComponents("http://127.0.0.1:1")
	tests := []struct {
		name     string
		resolver HeaderResolver
		want     []Headers
		logs     []string // each in the log
	}{
		{
			name:     "resolved and unresolved",
			resolver: &fakeResolver{values: map[string]string{"/ok": secretValue}},
			want: []Headers{
				{},
				{Header: http.Header{"Authorization": {secretValue}}},
				{Header: http.Header{"X-Key": {secretValue}}},
				{Unresolved: []string{"X-Key"}},
				{Unresolved: []string{"X-A", "X-B"}},
			},
			logs: []string{`"component":"one-missing","header":"X-Key"`, "parameter /gone not found", `"component":"all-missing","header":"X-A"`},
		},
		{
			name: "no resolver",
			want: []Headers{
				{},
				{Unresolved: []string{"Authorization"}},
				{Unresolved: []string{"X-Key"}},
				{Unresolved: []string{"Authorization", "X-Key"}},
				{Unresolved: []string{"X-A", "X-B"}},
			},
			logs: []string{"no secret resolver", `"component":"ok"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			got := SecretHeaders(t.Context(), tt.resolver, comps, log)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SecretHeaders =\n%+v\nwant\n%+v", got, tt.want)
			}
			for _, want := range tt.logs {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("log lacks %s:\n%s", want, buf.String())
				}
			}
			if strings.Contains(buf.String(), secretValue) {
				t.Errorf("log contains the secret value:\n%s", buf.String())
			}
		})
	}
}

// TestRunUnresolvedSecrets checks a component whose secret headers cannot
// be resolved is never probed (its target sees no request) and fails on the
// checker's side, naming the header and never a value.
func TestRunUnresolvedSecrets(t *testing.T) {
	var (
		mu   sync.Mutex
		hits = map[string]int{}
	)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		if r.URL.Path == "/plain" {
			return
		}
		if r.Header.Get("Authorization") != secretValue && r.Header.Get("X-Key") != secretValue {
			http.Error(w, "no credentials", http.StatusUnauthorized)
		}
	}))
	// The websocket component is covered by TestSecretHeaders; here every
	// target is plain http, so the hits can be counted by path.
	comps := slices.DeleteFunc(secretComponents(srv.URL), func(c config.Component) bool { return c.Type == config.TypeWebSocket })

	tests := []struct {
		name     string
		resolver HeaderResolver
		want     map[string]string // component → Error; "" when healthy
	}{
		{
			name:     "one secret missing",
			resolver: &fakeResolver{values: map[string]string{"/ok": secretValue}},
			want: map[string]string{
				"plain":       "",
				"ok":          "",
				"one-missing": `checker: secret header "X-Key" could not be resolved`,
				"all-missing": `checker: secret headers "X-A", "X-B" could not be resolved`,
			},
		},
		{
			name: "no resolver",
			want: map[string]string{
				"plain":       "",
				"ok":          `checker: secret header "Authorization" could not be resolved`,
				"one-missing": `checker: secret headers "Authorization", "X-Key" could not be resolved`,
				"all-missing": `checker: secret headers "X-A", "X-B" could not be resolved`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			clear(hits)
			mu.Unlock()
			log := slog.New(slog.DiscardHandler)
			results := Run(t.Context(), NewProbers(), comps, SecretHeaders(t.Context(), tt.resolver, comps, log), 0)
			mu.Lock()
			defer mu.Unlock()
			for _, r := range results {
				want := tt.want[r.Component]
				if want == "" {
					checkResult(t, r, true, "")
					if hits["/"+r.Component] != 1 {
						t.Errorf("%s: target saw %d requests, want 1", r.Component, hits["/"+r.Component])
					}
					continue
				}
				if r.Healthy || r.Error != want || r.Phase != PhaseChecker || r.Side != SideChecker {
					t.Errorf("%s: %+v, want checker-side %q", r.Component, r, want)
				}
				if n := hits["/"+r.Component]; n != 0 {
					t.Errorf("%s: target saw %d requests, want none", r.Component, n)
				}
			}
		})
	}
}
