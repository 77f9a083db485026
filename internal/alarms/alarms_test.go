package alarms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/emulator"
)

// RecordingActions is a hand-written fake of the two calls moto 5.2 does not
// implement (it raises NotImplementedError for Enable/DisableAlarmActions).
// DescribeAlarms goes to the emulator; the switch calls are recorded.
type RecordingActions struct {
	*cloudwatch.Client
	mu       sync.Mutex
	disabled [][]string
	enabled  [][]string
	fail     error
}

func (r *RecordingActions) DisableAlarmActions(_ context.Context, in *cloudwatch.DisableAlarmActionsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DisableAlarmActionsOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return nil, r.fail
	}
	r.disabled = append(r.disabled, in.AlarmNames)
	return &cloudwatch.DisableAlarmActionsOutput{}, nil
}

func (r *RecordingActions) EnableAlarmActions(_ context.Context, in *cloudwatch.EnableAlarmActionsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.EnableAlarmActionsOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.enabled = append(r.enabled, in.AlarmNames)
	return &cloudwatch.EnableAlarmActionsOutput{}, nil
}

func TestHoldSwitchesOnlyTheIntegrationsAlarms(t *testing.T) {
	ctx := context.Background()
	m, err := emulator.StartMoto(ctx, emulator.MotoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	cw := awsenv.New(m.AWSConfig()).CloudWatch
	put := func(name string) {
		t.Helper()
		_, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(name), Namespace: aws.String("Vigil"), MetricName: aws.String("ConsecutiveFailures"),
			Statistic: types.StatisticMaximum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1),
			Threshold: aws.Float64(3), ComparisonOperator: types.ComparisonOperatorGreaterThanOrEqualToThreshold,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := range 105 { // more than one Enable/Disable call's worth
		name := fmt.Sprintf("vigil/agent-bridge/alarm-%03d", i)
		put(name)
		want = append(want, name)
	}
	put("vigil/agent-bridge-2/consecutive-failures-critical")    // another integration whose name starts the same
	put("vigil/heartbeat")                                       // the monitor's own
	put("vigil-prod/agent-bridge/consecutive-failures-critical") // a stack whose name starts the same
	put("vigil-agent-bridge-consecutive-failures-critical")      // the old naming: no longer matched

	fake := &RecordingActions{Client: cw}
	s := NewSwitch(fake, "vigil")
	n, err := s.Hold(ctx, "agent-bridge", true)
	if err != nil || n != 105 {
		t.Fatalf("Hold = %d, %v", n, err)
	}
	var got []string
	for _, batch := range fake.disabled {
		if len(batch) > maxNames {
			t.Fatalf("one call named %d alarms", len(batch))
		}
		got = append(got, batch...)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("disabled %d alarms (%v…), want the integration's 105", len(got), got[:min(3, len(got))])
	}
	if n, err := s.Hold(ctx, "agent-bridge", false); err != nil || n != 105 || len(fake.enabled) != 2 {
		t.Fatalf("release = %d, %v, %d calls", n, err, len(fake.enabled))
	}

	fake.fail = errors.New("simulated: throttled")
	if _, err := s.Hold(ctx, "agent-bridge", true); err == nil || !errors.Is(err, fake.fail) {
		t.Fatalf("err = %v, want the failure reported", err)
	}
}

func TestNilSwitchHoldsNothing(t *testing.T) {
	var s *Switch = NewSwitch(nil, "")
	if n, err := s.Hold(context.Background(), "x", true); n != 0 || err != nil {
		t.Fatalf("nil switch: %d, %v", n, err)
	}
}
