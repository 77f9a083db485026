// Package awsenv builds every AWS SDK client Vigil uses at once, for tests
// and local tools. The Lambda functions do not use it: linking a service
// package costs package-init time at every cold start, so each function's
// main builds only its own clients from a session.Session (see
// lambdaenv.Setup). Pointing AWS_ENDPOINT_URL at an emulator (moto)
// switches every client to it.
package awsenv

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/vigil-monitor/vigil/internal/awsenv/cwclient"
	"github.com/vigil-monitor/vigil/internal/awsenv/session"
)

// RequestCounter counts AWS API requests by "Service.Operation" (see
// session.RequestCounter).
type RequestCounter = session.RequestCounter

// Clients holds one client per service; build it once and share it. A
// client of another service is built from Config, which carries the request
// counter.
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

// New builds the clients from cfg, with a fresh request counter; cfg itself
// is left as it was.
func New(cfg aws.Config) *Clients { return fromSession(session.New(cfg)) }

func fromSession(s *session.Session) *Clients {
	return &Clients{
		Requests:       s.Requests,
		Config:         s.Config,
		DynamoDB:       dynamodb.NewFromConfig(s.Config),
		CloudWatch:     cwclient.New(s.Config),
		SFN:            sfn.NewFromConfig(s.Config),
		SNS:            sns.NewFromConfig(s.Config),
		SSM:            ssm.NewFromConfig(s.Config),
		SecretsManager: secretsmanager.NewFromConfig(s.Config),
	}
}
