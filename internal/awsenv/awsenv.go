// Package awsenv builds the AWS SDK clients every function uses, once per
// container. Pointing AWS_ENDPOINT_URL at an emulator (moto) switches every
// client to it; nothing else changes between local runs and AWS.
package awsenv

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// Clients holds one client per service; build it once and share it. A
// function that needs another service builds its client from Config (which
// carries the request counter). The Lambda client is left out on purpose:
// every service package linked in costs package-init time at each cold start,
// and only the Recovery function invokes Lambda.
type Clients struct {
	Config         aws.Config
	DynamoDB       *dynamodb.Client
	CloudWatch     *cloudwatch.Client
	SFN            *sfn.Client
	SNS            *sns.Client
	SSM            *ssm.Client
	SecretsManager *secretsmanager.Client
	// Requests counts every request these clients send.
	Requests *RequestCounter
}

// Load reads the default AWS configuration (environment, shared files, the
// Lambda role) and builds the clients.
func Load(ctx context.Context) (*Clients, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("awsenv: load AWS config: %w", err)
	}
	return New(cfg), nil
}

// New builds the clients from cfg. When cfg.BaseEndpoint is set (an
// emulator), CloudWatch speaks the query protocol: moto 5.2 does not speak the
// RPC-v2 CBOR protocol the SDK uses by default.
func New(cfg aws.Config) *Clients {
	emulated := cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != ""
	counter := &RequestCounter{}
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, counter.install)
	return &Clients{
		Requests: counter,
		Config:   cfg,
		DynamoDB: dynamodb.NewFromConfig(cfg),
		CloudWatch: cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
			if emulated {
				o.Protocol = awsquery.New(schemas.GraniteServiceVersion20100801)
			}
		}),
		SFN:            sfn.NewFromConfig(cfg),
		SNS:            sns.NewFromConfig(cfg),
		SSM:            ssm.NewFromConfig(cfg),
		SecretsManager: secretsmanager.NewFromConfig(cfg),
	}
}
