// Command status is the Status Lambda behind a function URL (IAM auth): it
// wires the store and configuration into status.Handler, which answers from
// DynamoDB only, so DynamoDB (and SSM, for an SSM-held document) is all it
// links.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/vigil-monitor/vigil/internal/lambdaenv"
	"github.com/vigil-monitor/vigil/internal/status"
	"github.com/vigil-monitor/vigil/internal/store"
)

func main() {
	env, err := lambdaenv.Setup(context.Background(), "status")
	if err != nil {
		lambdaenv.Fail(err)
	}
	h := &status.Handler{
		Store:  store.New(dynamodb.NewFromConfig(env.AWS.Config), env.Table),
		Config: env.Config,
		Now:    time.Now,
		Logger: env.Log,
	}
	lambda.Start(h.Handle)
}
