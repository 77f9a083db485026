// Command healthcheck is the scheduled HealthCheck Lambda: it wires clients
// and settings into check.Handler and starts the runtime loop. It builds
// only the clients the check uses, so it links only their service packages.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/vigil-monitor/vigil/internal/alerting"
	"github.com/vigil-monitor/vigil/internal/awsenv/cwclient"
	"github.com/vigil-monitor/vigil/internal/check"
	"github.com/vigil-monitor/vigil/internal/execution"
	"github.com/vigil-monitor/vigil/internal/lambdaenv"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/probe"
	"github.com/vigil-monitor/vigil/internal/secret"
	"github.com/vigil-monitor/vigil/internal/store"
)

func main() {
	env, err := lambdaenv.Setup(context.Background(), "healthcheck")
	if err != nil {
		lambdaenv.Fail(err)
	}
	cfg := env.AWS.Config
	h := &check.Handler{
		Config:      env.Config,
		Store:       store.New(dynamodb.NewFromConfig(cfg), env.Table),
		Metrics:     metrics.NewEMF(os.Stdout, env.Namespace),
		Notifier:    notify.NewRoutedPublisher(sns.NewFromConfig(cfg), notify.Topics{Warning: env.WarningTopicARN, Critical: env.CriticalTopicARN}),
		Starter:     execution.NewStarter(sfn.NewFromConfig(cfg), env.StateMachineARN),
		Alerting:    alertingConverger(cwclient.New(cfg), env, cfg.Region),
		Responder:   check.HTTPSResponder{},
		Secrets:     secret.New(env.SSM, secretsmanager.NewFromConfig(cfg), 5*time.Minute),
		Probers:     probe.NewProbers(),
		Requests:    env.AWS.Requests,
		Concurrency: env.ProbeConcurrency,
		Logger:      env.Log,
	}
	lambda.Start(h.Handle)
}

// alertingConverger is nil (an untyped nil interface) when no stack is
// deployed.
func alertingConverger(cw alerting.CloudWatchAPI, env *lambdaenv.Env, region string) check.AlertingConverger {
	c := alerting.NewConverger(cw, alerting.Options{
		Stack: env.StackName, Region: region, Namespace: env.Namespace,
		WarningTopic: env.WarningTopicARN, CriticalTopic: env.CriticalTopicARN,
	})
	if c == nil {
		return nil
	}
	return c
}
