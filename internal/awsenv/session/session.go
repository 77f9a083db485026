// Package session holds what every AWS client of a function is built from:
// the AWS configuration, read once per container, with a request counter
// installed. It imports no service package on purpose: each service package
// a binary links costs package-init time (its generated schemas) at every
// cold start, so each function's main builds only the clients it uses, from
// Session.Config. Pointing AWS_ENDPOINT_URL at an emulator (moto) switches
// every client to it.
package session

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// Session is the configuration a function's clients share. A client built
// from Config (ssm.NewFromConfig(s.Config), …) counts its requests in
// Requests.
type Session struct {
	Config aws.Config
	// Requests counts every request of the clients built from Config.
	Requests *RequestCounter
}

// Load reads the default AWS configuration (environment, shared files, the
// Lambda role) and installs the request counter.
func Load(ctx context.Context) (*Session, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: load AWS config: %w", err)
	}
	return New(cfg), nil
}

// New installs a fresh request counter in a copy of cfg; cfg itself is left
// as it was.
func New(cfg aws.Config) *Session {
	counter := &RequestCounter{}
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, counter.install)
	return &Session{Config: cfg, Requests: counter}
}

// Emulated reports whether cfg points every client at one endpoint
// (AWS_ENDPOINT_URL): the local emulator, whose protocols may lag the SDK's.
func Emulated(cfg aws.Config) bool {
	return cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != ""
}
