// Command status is the Status Lambda behind a function URL: it wires
// clients and settings into status.Handler and starts the runtime loop.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/lambdaenv"
	"github.com/vigil-monitor/vigil/internal/status"
	"github.com/vigil-monitor/vigil/internal/store"
)

func main() {
	ctx := context.Background()
	s, err := lambdaenv.FromEnv()
	if err != nil {
		slog.Error("status: settings", "error", err)
		os.Exit(1)
	}
	log := s.Logger()
	clients, err := awsenv.Load(ctx)
	if err != nil {
		log.Error("status: aws clients", "error", err)
		os.Exit(1)
	}
	cfg, err := s.ConfigSource(clients.SSM, time.Minute, log)
	if err != nil {
		log.Error("status: config", "error", err)
		os.Exit(1)
	}
	h := &status.Handler{
		Store:  store.New(clients.DynamoDB, s.Table),
		Config: cfg,
		Now:    time.Now,
		Logger: log,
	}
	lambda.Start(h.Handle)
}
