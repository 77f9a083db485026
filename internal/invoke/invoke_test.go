package invoke

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// answering is a hand-written stand-in for the Lambda API that answers
// every invoke with a fixed output; the SDK's path to a real function
// (through the local gateway to a bootstrap under the Runtime Interface
// Emulator) is exercised by internal/localrun's tests.
type answering struct {
	out *lambda.InvokeOutput
	err error
	in  *lambda.InvokeInput
}

func (a *answering) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	a.in = in
	return a.out, a.err
}

func TestCall(t *testing.T) {
	type answer struct{ Tick string }
	for _, tc := range []struct {
		name    string
		api     *answering
		want    string
		wantErr string
	}{
		{"answer decoded", &answering{out: &lambda.InvokeOutput{Payload: []byte(`{"Tick":"t1"}`)}}, "t1", ""},
		{"function error named", &answering{out: &lambda.InvokeOutput{FunctionError: aws.String("Unhandled"), Payload: []byte(`{"errorType":"errorString","errorMessage":"check: load config: boom"}`)}},
			"", `invoke vigil-healthcheck: function error "Unhandled errorString": check: load config: boom`},
		{"service error wrapped", &answering{err: errors.New("TooManyRequestsException")}, "", "invoke vigil-healthcheck: TooManyRequestsException"},
		{"undecodable answer", &answering{out: &lambda.InvokeOutput{Payload: []byte(`not json`)}}, "", "decode answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got answer
			err := New(tc.api).Call(context.Background(), "vigil-healthcheck", map[string]int{"n": 1}, &got)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Tick != tc.want {
				t.Fatalf("got %+v, %v", got, err)
			}
			if tc.api.in.InvocationType != types.InvocationTypeRequestResponse || string(tc.api.in.Payload) != `{"n":1}` || aws.ToString(tc.api.in.FunctionName) != "vigil-healthcheck" {
				t.Fatalf("request %+v", tc.api.in)
			}
		})
	}
}
