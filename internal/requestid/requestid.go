// Package requestid reads the Lambda request id that every log line of an
// invocation carries. It links nothing but aws-lambda-go's lambdacontext, so
// a handler package can read the id without linking the functions' settings
// and clients (lambdaenv).
package requestid

import (
	"context"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// FromContext returns the Lambda request id of ctx, or "" when ctx is not an
// invocation's (a test, the local runner without the emulator).
func FromContext(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}
