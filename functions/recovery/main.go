// Command recovery is the Recovery Lambda: invoked by the Recovery state
// machine, it runs one recovery attempt of an integration, re-probes it and
// records the outcome (see internal/recovery). It only wires; the logic lives
// in internal/.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/vigil-monitor/vigil/internal/lambdaenv"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/probe"
	"github.com/vigil-monitor/vigil/internal/recovery"
	"github.com/vigil-monitor/vigil/internal/secret"
	"github.com/vigil-monitor/vigil/internal/store"
)

func main() {
	env, err := lambdaenv.Setup(context.Background(), "recovery")
	if err != nil {
		lambdaenv.Fail(err)
	}
	c := env.Clients
	st := store.New(c.DynamoDB, env.Table)
	h := &recovery.Handler{
		Config:   env.Config,
		Store:    st,
		Attempts: st,
		Metrics:  metrics.NewPublisher(c.CloudWatch, env.Namespace),
		Notifier: notify.NewPublisher(c.SNS, env.TopicARN),
		Secrets:  secret.New(c.SSM, c.SecretsManager, 5*time.Minute),
		Lambda:   awslambda.NewFromConfig(c.Config),
		Probers:  probe.NewProbers(),
		Logger:   env.Log,
	}
	lambda.Start(h.Handle)
}
