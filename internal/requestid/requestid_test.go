package requestid

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestFromContext(t *testing.T) {
	if got := FromContext(context.Background()); got != "" {
		t.Errorf("outside Lambda: %q, want empty", got)
	}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e812345678"})
	if got := FromContext(ctx); got != "c6af9ac6-7b61-11e6-9a41-93e812345678" {
		t.Errorf("in an invocation: %q", got)
	}
}
