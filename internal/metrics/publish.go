package metrics

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// PutMetricDataAPI is the part of the CloudWatch client Publisher uses;
// *cloudwatch.Client satisfies it.
type PutMetricDataAPI interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

var _ PutMetricDataAPI = (*cloudwatch.Client)(nil)

// API limits of PutMetricData.
const (
	// MaxDatumsPerCall is the most datums one PutMetricData call accepts.
	MaxDatumsPerCall = 1000
	// MaxPayloadBytes is the largest PutMetricData request body accepted.
	MaxPayloadBytes = 1 << 20
)

// Publisher sends datums to one CloudWatch namespace. It is safe for
// concurrent use; build it once per container.
type Publisher struct {
	client    PutMetricDataAPI
	namespace string
}

// NewPublisher returns a Publisher for namespace (DefaultNamespace when
// empty).
func NewPublisher(client PutMetricDataAPI, namespace string) *Publisher {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return &Publisher{client: client, namespace: namespace}
}

// Namespace is the namespace the publisher writes to.
func (p *Publisher) Namespace() string { return p.namespace }

// BatchError reports one batch that failed twice (the call and its retry).
type BatchError struct {
	Batch   int // 1-based, in publishing order
	Batches int
	Datums  int
	Err     error
}

// Error names the batch, its size and the cause.
func (e *BatchError) Error() string {
	return fmt.Sprintf("metrics: put batch %d/%d (%d datums): %v", e.Batch, e.Batches, e.Datums, e.Err)
}

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *BatchError) Unwrap() error { return e.Err }

// FailedBatches counts the BatchErrors joined in an error returned by
// Publish, for the MetricsPublishFailures count of the next invocation.
func FailedBatches(err error) int {
	if err == nil {
		return 0
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		n := 0
		for _, e := range j.Unwrap() {
			n += FailedBatches(e)
		}
		return n
	}
	var be *BatchError
	if errors.As(err, &be) {
		return 1
	}
	return 0
}

// Publish sends datums in as few PutMetricData calls as the API allows: up
// to MaxDatumsPerCall datums per call, and under MaxPayloadBytes by a
// conservative size estimate. A failed call is retried once; a batch that
// fails again is reported and the remaining batches are still sent. calls
// counts every PutMetricData request made, retries included. err joins one
// *BatchError per failed batch; the caller logs and counts it, and must not
// let it affect state (SPEC §5).
func (p *Publisher) Publish(ctx context.Context, datums []types.MetricDatum) (calls int, err error) {
	batches := split(datums, p.namespace)
	var errs []error
	for i, b := range batches {
		in := &cloudwatch.PutMetricDataInput{Namespace: aws.String(p.namespace), MetricData: b}
		_, perr := p.client.PutMetricData(ctx, in)
		calls++
		// A cancelled context would fail the retry too; keep the budget for
		// the caller instead.
		if perr != nil && ctx.Err() == nil {
			_, perr = p.client.PutMetricData(ctx, in)
			calls++
		}
		if perr != nil {
			errs = append(errs, &BatchError{Batch: i + 1, Batches: len(batches), Datums: len(b), Err: perr})
		}
	}
	return calls, errors.Join(errs...)
}

// split cuts datums into batches within the count and payload limits,
// keeping their order.
func split(datums []types.MetricDatum, namespace string) [][]types.MetricDatum {
	if len(datums) == 0 {
		return nil
	}
	// The envelope: Action, Version, Namespace and the HTTP framing the
	// estimate does not see, with a margin.
	budget := MaxPayloadBytes - 4096 - 3*len(namespace)
	var out [][]types.MetricDatum
	start, size := 0, 0
	for i := range datums {
		s := estimateSize(&datums[i])
		if i > start && (i-start == MaxDatumsPerCall || size+s > budget) {
			out = append(out, datums[start:i:i])
			start, size = i, 0
		}
		size += s
	}
	return append(out, datums[start:])
}

// Key overhead in the query encoding, the largest of the protocols the SDK
// may use: "MetricData.member.1000.StorageResolution=" plus separator, and
// "MetricData.member.1000.Dimensions.member.30.Value=" plus separator.
const (
	keyBytes    = 45
	dimKeyBytes = 55
	numberBytes = 32 // a formatted float64
	timeBytes   = 40 // RFC 3339 with escaped colons
	arrayKey    = 60 // "MetricData.member.1000.Values.member.150="
)

// estimateSize bounds a datum's share of the request body. Text is counted
// three times over, as if every byte were percent-escaped, so the estimate
// never undercounts.
func estimateSize(d *types.MetricDatum) int {
	n := keyBytes + 3*len(aws.ToString(d.MetricName))
	if d.Value != nil {
		n += keyBytes + numberBytes
	}
	if d.Unit != "" {
		n += keyBytes + 3*len(d.Unit)
	}
	if d.Timestamp != nil {
		n += keyBytes + timeBytes
	}
	if d.StorageResolution != nil {
		n += keyBytes + numberBytes
	}
	if d.StatisticValues != nil {
		n += 4 * (keyBytes + numberBytes)
	}
	n += (len(d.Values) + len(d.Counts)) * (arrayKey + numberBytes)
	for _, dim := range d.Dimensions {
		n += 2*dimKeyBytes + 3*(len(aws.ToString(dim.Name))+len(aws.ToString(dim.Value)))
	}
	return n
}
