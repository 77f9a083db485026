// Package alarms holds an integration's CloudWatch alarm notifications during
// its maintenance windows (SPEC §2): the alarms keep evaluating, so the
// dashboard stays true, but their actions are disabled until the window ends.
package alarms

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

// CloudWatchAPI is the part of the CloudWatch client Switch needs.
type CloudWatchAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
	DisableAlarmActions(ctx context.Context, in *cloudwatch.DisableAlarmActionsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DisableAlarmActionsOutput, error)
	EnableAlarmActions(ctx context.Context, in *cloudwatch.EnableAlarmActionsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.EnableAlarmActionsOutput, error)
}

var _ CloudWatchAPI = (*cloudwatch.Client)(nil)

// maxNames is the most alarm names one Enable/DisableAlarmActions call takes.
const maxNames = 100

// Switch turns the actions of one integration's alarms off and on. The
// alarms of integration X in stack S are named "S/X/…" (integration-alarms.yaml):
// "/" occurs in no stack or integration name, so the prefix of X never
// matches the alarms of integration "X-2", nor those of stack "S-prod".
type Switch struct {
	client CloudWatchAPI
	prefix string
}

// NewSwitch returns a Switch for the alarms of the stack named stack, or nil
// when stack is empty (no alarms deployed, e.g. a local run): a nil *Switch
// holds nothing.
func NewSwitch(client CloudWatchAPI, stack string) *Switch {
	if stack == "" {
		return nil
	}
	return &Switch{client: client, prefix: stack + "/"}
}

// Hold disables (hold true) or re-enables the actions of every alarm of
// integration, and returns how many alarms it switched. The monitor's own
// alarms (heartbeat, functions) are not the integration's and stay armed.
func (s *Switch) Hold(ctx context.Context, integration string, hold bool) (int, error) {
	if s == nil {
		return 0, nil
	}
	prefix := s.prefix + integration + "/"
	var names []string
	var next *string
	for {
		out, err := s.client.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(prefix), NextToken: next})
		if err != nil {
			return 0, fmt.Errorf("alarms: list %s*: %w", prefix, err)
		}
		for _, a := range out.MetricAlarms {
			names = append(names, aws.ToString(a.AlarmName))
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	for start := 0; start < len(names); start += maxNames {
		batch := names[start:min(start+maxNames, len(names))]
		var err error
		if hold {
			_, err = s.client.DisableAlarmActions(ctx, &cloudwatch.DisableAlarmActionsInput{AlarmNames: batch})
		} else {
			_, err = s.client.EnableAlarmActions(ctx, &cloudwatch.EnableAlarmActionsInput{AlarmNames: batch})
		}
		if err != nil {
			return start, fmt.Errorf("alarms: set actions of %s* (hold %v): %w", prefix, hold, err)
		}
	}
	return len(names), nil
}
