// Command healthcheck is the scheduled HealthCheck Lambda: it wires clients
// and settings into check.Handler and starts the runtime loop.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/vigil-monitor/vigil/internal/alarms"
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
	c := env.Clients
	h := &check.Handler{
		Config:      env.Config,
		Store:       store.New(c.DynamoDB, env.Table),
		Metrics:     metrics.NewPublisher(c.CloudWatch, env.Namespace),
		Notifier:    notify.NewPublisher(c.SNS, env.TopicARN),
		Starter:     execution.NewStarter(c.SFN, env.StateMachineARN),
		Alarms:      alarmHolder(c.CloudWatch, env.StackName),
		Secrets:     secret.New(c.SSM, c.SecretsManager, 5*time.Minute),
		Probers:     probe.NewProbers(),
		Requests:    c.Requests,
		Concurrency: env.ProbeConcurrency,
		Logger:      env.Log,
	}
	lambda.Start(h.Handle)
}

// alarmHolder is nil (an untyped nil interface) when the stack has no alarms.
func alarmHolder(cw alarms.CloudWatchAPI, stack string) check.AlarmHolder {
	if s := alarms.NewSwitch(cw, stack); s != nil {
		return s
	}
	return nil
}
