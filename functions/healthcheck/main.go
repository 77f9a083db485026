// Command healthcheck is the scheduled HealthCheck Lambda: it wires clients
// and settings into check.Handler and starts the runtime loop.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/check"
	"github.com/vigil-monitor/vigil/internal/lambdaenv"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/probe"
	"github.com/vigil-monitor/vigil/internal/recovery"
	"github.com/vigil-monitor/vigil/internal/secret"
	"github.com/vigil-monitor/vigil/internal/store"
)

func main() {
	ctx := context.Background()
	s, err := lambdaenv.FromEnv()
	if err != nil {
		slog.Error("healthcheck: settings", "error", err)
		os.Exit(1)
	}
	log := s.Logger()
	clients, err := awsenv.Load(ctx)
	if err != nil {
		log.Error("healthcheck: aws clients", "error", err)
		os.Exit(1)
	}
	cfg, err := s.ConfigSource(clients.SSM, time.Minute, log)
	if err != nil {
		log.Error("healthcheck: config", "error", err)
		os.Exit(1)
	}
	h := &check.Handler{
		Config:      cfg,
		Store:       store.New(clients.DynamoDB, s.Table),
		Metrics:     metrics.NewPublisher(clients.CloudWatch, s.Namespace),
		Notifier:    notify.NewPublisher(clients.SNS, s.TopicARN),
		Starter:     recovery.NewStarter(clients.SFN, s.StateMachineARN),
		Secrets:     secret.New(clients.SSM, clients.SecretsManager, 5*time.Minute),
		Probers:     probe.NewProbers(),
		Requests:    clients.Requests,
		Concurrency: s.ProbeConcurrency,
		Logger:      log,
	}
	lambda.Start(h.Handle)
}
