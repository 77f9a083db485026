// Package secret resolves the secret references of the configuration (SPEC
// §2): SSM SecureString parameters and Secrets Manager secrets, fetched at
// run time and cached per container. No error or printed form of a Resolver
// ever contains a secret value.
package secret

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/vigil-monitor/vigil/internal/config"
)

// SSMAPI is the part of the SSM client a Resolver uses.
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SecretsManagerAPI is the part of the Secrets Manager client a Resolver
// uses.
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var (
	_ SSMAPI            = (*ssm.Client)(nil)
	_ SecretsManagerAPI = (*secretsmanager.Client)(nil)
)

// Sentinel errors, wrapped with the reference's name.
var (
	// ErrInvalidRef: a SecretRef sets neither or both of its fields.
	ErrInvalidRef = errors.New("secret: reference must set exactly one of ssm and secretsmanager")
	// ErrNoClient: the reference's service has no client.
	ErrNoClient = errors.New("secret: no client for this service")
	// ErrNoValue: the parameter or secret has no text value (for example a
	// binary secret).
	ErrNoValue = errors.New("secret: no text value")
)

// Resolver fetches secret values and caches them for a TTL. It is safe for
// concurrent use; build one per container and share it.
type Resolver struct {
	ssm SSMAPI
	sm  SecretsManagerAPI
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex        // guards cache
	cache map[string]*entry // by Name(ref); misses and errors are not kept
}

// entry is one cached or in-flight fetch; done closes when val and err are
// set, so concurrent callers of the same reference share a single call.
type entry struct {
	done    chan struct{}
	val     string
	err     error
	expires time.Time
}

// New returns a Resolver over the two services. Values are cached for ttl;
// ttl ≤ 0 fetches on every call (concurrent calls for one reference still
// share a fetch). Either client may be nil when no reference uses it.
func New(ssm SSMAPI, sm SecretsManagerAPI, ttl time.Duration) *Resolver {
	return &Resolver{ssm: ssm, sm: sm, ttl: ttl, now: time.Now, cache: map[string]*entry{}}
}

// Name describes ref for errors and logs, e.g. "ssm parameter /vigil/token";
// it never contains the value.
func Name(ref config.SecretRef) string {
	switch {
	case ref.SSM != "" && ref.SecretsManager == "":
		return "ssm parameter " + ref.SSM
	case ref.SecretsManager != "" && ref.SSM == "":
		return "secretsmanager secret " + ref.SecretsManager
	}
	return fmt.Sprintf("invalid reference {ssm: %q, secretsmanager: %q}", ref.SSM, ref.SecretsManager)
}

// Resolve returns ref's value: the decrypted SSM parameter, or the secret's
// SecretString. Errors name the reference, never the value.
func (r *Resolver) Resolve(ctx context.Context, ref config.SecretRef) (string, error) {
	if (ref.SSM == "") == (ref.SecretsManager == "") {
		return "", fmt.Errorf("%w: %s", ErrInvalidRef, Name(ref))
	}
	key := Name(ref)
	r.mu.Lock()
	e, ok := r.cache[key]
	if ok {
		select {
		case <-e.done:
			if e.err == nil && r.now().Before(e.expires) {
				r.mu.Unlock()
				return e.val, nil
			}
			ok = false // expired; a failed entry was already removed
		default:
		}
	}
	if !ok {
		e = &entry{done: make(chan struct{})}
		r.cache[key] = e
		r.mu.Unlock()
		// The fetch runs outside the lock so other references resolve
		// concurrently; waiters for this one block on done instead.
		e.val, e.err = r.fetch(ctx, ref)
		r.mu.Lock()
		e.expires = r.now().Add(r.ttl)
		if e.err != nil || r.ttl <= 0 {
			if r.cache[key] == e {
				delete(r.cache, key)
			}
		}
		close(e.done)
		r.mu.Unlock()
		return e.val, e.err
	}
	r.mu.Unlock()
	select {
	case <-e.done:
		return e.val, e.err
	case <-ctx.Done():
		return "", fmt.Errorf("secret: resolve %s: %w", key, ctx.Err())
	}
}

func (r *Resolver) fetch(ctx context.Context, ref config.SecretRef) (string, error) {
	name := Name(ref)
	if ref.SSM != "" {
		if r.ssm == nil {
			return "", fmt.Errorf("%w: %s", ErrNoClient, name)
		}
		out, err := r.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ref.SSM), WithDecryption: aws.Bool(true)})
		if err != nil {
			return "", fmt.Errorf("secret: resolve %s: %w", name, err)
		}
		if out.Parameter == nil || out.Parameter.Value == nil {
			return "", fmt.Errorf("%w: %s", ErrNoValue, name)
		}
		return *out.Parameter.Value, nil
	}
	if r.sm == nil {
		return "", fmt.Errorf("%w: %s", ErrNoClient, name)
	}
	out, err := r.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.SecretsManager)})
	if err != nil {
		return "", fmt.Errorf("secret: resolve %s: %w", name, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("%w: %s (binary secrets are not supported)", ErrNoValue, name)
	}
	return *out.SecretString, nil
}

// Headers returns plain merged with the resolved secrets; a header named in
// both takes the secret's value. The first failing reference stops it, and
// its error names the header and the reference.
func (r *Resolver) Headers(ctx context.Context, plain map[string]string, secrets map[string]config.SecretRef) (http.Header, error) {
	h := make(http.Header, len(plain)+len(secrets))
	for k, v := range plain {
		h.Set(k, v)
	}
	for k, ref := range secrets {
		v, err := r.Resolve(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("secret: header %s: %w", k, err)
		}
		h.Set(k, v)
	}
	return h, nil
}

// String describes the resolver without any cached value.
func (r *Resolver) String() string {
	r.mu.Lock()
	n := len(r.cache)
	r.mu.Unlock()
	return fmt.Sprintf("secret.Resolver{ttl: %s, cached: %d}", r.ttl, n)
}

// GoString is String, so %#v cannot reach the cache either.
func (r *Resolver) GoString() string { return r.String() }

// Format prints String for every verb: the default struct printing of other
// verbs (%d, %+v through pointers) would walk the cache.
func (r *Resolver) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, r.String()) }
