// Package cwclient builds the CloudWatch client, the one client that is
// built differently on the emulator. It is its own package so that only the
// functions that use CloudWatch link it (see package session).
package cwclient

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/vigil-monitor/vigil/internal/awsenv/session"
)

// New builds the CloudWatch client from cfg (a session's Config, so its
// requests are counted). On an emulator (session.Emulated) it speaks the
// query protocol: moto 5.2 does not speak the RPC-v2 CBOR protocol the SDK
// uses by default.
func New(cfg aws.Config) *cloudwatch.Client {
	emulated := session.Emulated(cfg)
	return cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		if emulated {
			o.Protocol = awsquery.New(schemas.GraniteServiceVersion20100801)
		}
	})
}
