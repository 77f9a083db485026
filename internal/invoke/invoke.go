// Package invoke calls a Lambda function synchronously with a JSON event and
// decodes its JSON answer: the HealthCheck coordinator invokes its shards, and
// a probe-only region asks the home region's HealthCheck to decide a tick.
package invoke

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/vigil-monitor/vigil/internal/bound"
)

// LambdaAPI is the part of the Lambda client a Client uses; *lambda.Client
// satisfies it.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

var _ LambdaAPI = (*lambda.Client)(nil)

// Client invokes functions synchronously (RequestResponse): the caller sees
// the answer, or the failure, in the same tick.
type Client struct{ api LambdaAPI }

// New returns a Client over api.
func New(api LambdaAPI) *Client { return &Client{api: api} }

// Call invokes function with in encoded as JSON and decodes the answer into
// out. A function error (the runtime's errorType and errorMessage) is an
// error naming the function.
func (c *Client) Call(ctx context.Context, function string, in, out any) error {
	payload, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("invoke %s: encode event: %w", function, err)
	}
	res, err := c.api.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(function),
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		return fmt.Errorf("invoke %s: %w", function, err)
	}
	if res.FunctionError != nil {
		var fe struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}
		_ = json.Unmarshal(res.Payload, &fe)
		return fmt.Errorf("invoke %s: function error %s: %s", function, bound.Quote(*res.FunctionError+" "+fe.Type), bound.Text(fe.Message, bound.Error))
	}
	if err := json.Unmarshal(res.Payload, out); err != nil {
		return fmt.Errorf("invoke %s: decode answer: %w", function, err)
	}
	return nil
}
