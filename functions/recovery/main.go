// Command recovery is the Recovery Lambda: invoked by the Recovery state
// machine, it runs one recovery attempt of an integration, re-probes it and
// records the outcome (see internal/recovery). It only wires; the logic lives
// in internal/. It builds only the clients recovery uses, so it links only
// their service packages.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"

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
	cfg := env.AWS.Config
	st := store.New(dynamodb.NewFromConfig(cfg), env.Table)
	h := &recovery.Handler{
		Config:   env.Config,
		Store:    st,
		Attempts: st,
		Metrics:  metrics.NewEMF(os.Stdout, env.Namespace),
		Notifier: notify.NewRoutedPublisher(sns.NewFromConfig(cfg), notify.Topics{Warning: env.WarningTopicARN, Critical: env.CriticalTopicARN}),
		Secrets:  secret.New(env.SSM, secretsmanager.NewFromConfig(cfg), 5*time.Minute),
		Lambda:   awslambda.NewFromConfig(cfg),
		Probers:  probe.NewProbers(),
		Logger:   env.Log,
	}
	lambda.Start(h.Handle)
}
