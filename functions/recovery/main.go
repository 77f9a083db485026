// Command recovery is the Recovery Lambda: invoked by the Recovery state
// machine, it runs one recovery attempt of an integration, re-probes it and
// records the outcome (see internal/recovery). It only wires; the logic lives
// in internal/.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/lambdaenv"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/probe"
	"github.com/vigil-monitor/vigil/internal/recovery"
	"github.com/vigil-monitor/vigil/internal/secret"
	"github.com/vigil-monitor/vigil/internal/store"
)

// Cache lifetimes: an SSM-held configuration and resolved secrets are
// re-read at most this often per container.
const (
	configTTL = time.Minute
	secretTTL = 5 * time.Minute
)

func main() {
	settings, err := lambdaenv.FromEnv()
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stdout, nil)).Error("recovery: bad environment", "error", err)
		os.Exit(1)
	}
	log := settings.Logger()
	slog.SetDefault(log)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	clients, err := awsenv.Load(ctx)
	cancel()
	if err != nil {
		log.Error("recovery: build AWS clients", "error", err)
		os.Exit(1)
	}
	cfg, err := settings.ConfigSource(clients.SSM, configTTL, log)
	if err != nil {
		log.Error("recovery: load configuration", "error", err, "file", settings.ConfigFile, "parameter", settings.ConfigParameter)
		os.Exit(1)
	}
	st := store.New(clients.DynamoDB, settings.Table)
	h := &recovery.Handler{
		Config:   cfg,
		Store:    st,
		Attempts: st,
		Metrics:  metrics.NewPublisher(clients.CloudWatch, settings.Namespace),
		Notifier: notify.NewPublisher(clients.SNS, settings.TopicARN),
		Secrets:  secret.New(clients.SSM, clients.SecretsManager, secretTTL),
		Lambda:   awslambda.NewFromConfig(clients.Config),
		Probers:  probe.NewProbers(),
		Logger:   log,
	}
	lambda.Start(h.Handle)
}
