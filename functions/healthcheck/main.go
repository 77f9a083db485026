// Command healthcheck is the scheduled HealthCheck Lambda: it wires clients
// and settings into check.Handler and starts the runtime loop. It builds
// only the clients the check uses, so it links only their service packages.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	lambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/vigil-monitor/vigil/internal/alerting"
	"github.com/vigil-monitor/vigil/internal/awsenv/cwclient"
	"github.com/vigil-monitor/vigil/internal/check"
	"github.com/vigil-monitor/vigil/internal/execution"
	"github.com/vigil-monitor/vigil/internal/invoke"
	"github.com/vigil-monitor/vigil/internal/lambdaenv"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/probe"
	"github.com/vigil-monitor/vigil/internal/secret"
	"github.com/vigil-monitor/vigil/internal/shard"
	"github.com/vigil-monitor/vigil/internal/store"
)

func main() {
	env, err := lambdaenv.Setup(context.Background(), "healthcheck")
	if err != nil {
		lambdaenv.Fail(err)
	}
	cfg := env.AWS.Config
	// State, decisions, recovery and notifications live in the home region.
	home := cfg.Copy()
	home.Region = env.HomeRegion
	st := store.New(dynamodb.NewFromConfig(home), env.Table)
	var opts []probe.Option
	if env.DNSServer != "" {
		opts = append(opts, probe.WithResolver(probe.ResolverAt(env.DNSServer)))
	}
	h := &check.Handler{
		Config:      env.Config,
		Store:       st,
		Shards:      st,
		Metrics:     metrics.NewEMF(os.Stdout, env.Namespace),
		Notifier:    notify.NewRoutedPublisher(sns.NewFromConfig(home), notify.Topics{Warning: env.WarningTopicARN, Critical: env.CriticalTopicARN}),
		Starter:     execution.NewStarter(sfn.NewFromConfig(home), env.StateMachineARN),
		Alerting:    alertingConverger(cwclient.New(cfg), env, cfg.Region),
		Responder:   check.HTTPSResponder{},
		Secrets:     secret.New(env.SSM, secretsmanager.NewFromConfig(cfg), 5*time.Minute),
		Probers:     probe.NewProbers(opts...),
		Requests:    env.AWS.Requests,
		Concurrency: env.ProbeConcurrency,
		Fanout:      fanout(env, cfg),
		Regions:     regions(env, home),
		Logger:      env.Log,
	}
	lambda.Start(h.Handle)
}

// fanout lets the function split a large tick over invocations of itself;
// nil outside Lambda (no function name to invoke).
func fanout(env *lambdaenv.Env, cfg aws.Config) *check.Fanout {
	if env.FunctionName == "" {
		return nil
	}
	capacity := env.ShardComponents
	if capacity == 0 {
		capacity = shard.Capacity(env.MemoryMB, env.ProbeConcurrency)
	}
	return &check.Fanout{Invoker: invoke.New(lambdasvc.NewFromConfig(cfg)), Function: env.FunctionName, Capacity: capacity}
}

// regions is nil when this region probes alone.
func regions(env *lambdaenv.Env, home aws.Config) *check.Regions {
	if !env.MultiRegion() {
		return nil
	}
	return &check.Regions{
		Region: env.Region, Home: env.HomeRegion, All: env.Regions,
		HomeFunction: env.HomeFunction, Invoker: invoke.New(lambdasvc.NewFromConfig(home)),
	}
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
