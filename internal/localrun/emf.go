package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/vigil-monitor/vigil/internal/metrics"
)

// PutMetricDataAPI is the part of the CloudWatch client extraction uses.
type PutMetricDataAPI interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// extractor stands in for CloudWatch Logs' Embedded Metric Format
// extraction, which moto does not do: it reads the functions' log output,
// passes it on unchanged, and publishes every EMF document it finds to
// moto's CloudWatch with PutMetricData, so the metrics the functions write
// can be listed and graphed locally as they would be on AWS. Documents are
// checked against the specification on the way (metrics.ParseEMF); an
// invalid one is counted and reported, never half-published.
type extractor struct {
	cw PutMetricDataAPI

	mu        sync.Mutex
	cond      *sync.Cond
	documents int            // EMF documents published
	names     map[string]int // datums published, by metric name
	invalid   []error        // documents refused by the specification
}

func newExtractor(cw PutMetricDataAPI) *extractor {
	e := &extractor{cw: cw, names: map[string]int{}}
	e.cond = sync.NewCond(&e.mu)
	return e
}

// wrap returns a writer that passes what the function logs on to w and
// extracts the metrics of every complete line.
func (e *extractor) wrap(w io.Writer) io.Writer { return &lineTap{next: w, line: e.line} }

// line handles one log line of a function.
func (e *extractor) line(b []byte) {
	// A JSON log line that is no EMF document is the common case.
	if !bytes.Contains(b, []byte(`"_aws"`)) {
		return
	}
	// The runtime emulator may prefix a line; the document is the JSON
	// object that ends it, as on Lambda.
	if i := bytes.IndexByte(b, '{'); i > 0 {
		b = b[i:]
	}
	datums, err := metrics.ParseEMF(b)
	if errors.Is(err, metrics.ErrNotEMF) {
		return
	}
	if err == nil {
		err = e.publish(datums)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.invalid = append(e.invalid, err)
	} else {
		e.documents++
		for _, d := range datums {
			e.names[d.Name]++
		}
	}
	e.cond.Broadcast()
}

// publish sends one document's datums to CloudWatch, one call per
// namespace its directives name.
func (e *extractor) publish(datums []metrics.Extracted) error {
	byNS := map[string]*cloudwatch.PutMetricDataInput{}
	var order []string
	for _, d := range datums {
		in := byNS[d.Namespace]
		if in == nil {
			in = &cloudwatch.PutMetricDataInput{Namespace: aws.String(d.Namespace)}
			byNS[d.Namespace] = in
			order = append(order, d.Namespace)
		}
		dims := make([]cwtypes.Dimension, len(d.Dims))
		for i, dim := range d.Dims {
			dims[i] = cwtypes.Dimension{Name: aws.String(dim.Name), Value: aws.String(dim.Value)}
		}
		in.MetricData = append(in.MetricData, cwtypes.MetricDatum{
			MetricName: aws.String(d.Name), Dimensions: dims, Value: aws.Float64(d.Value),
			Unit: cwtypes.StandardUnit(d.Unit), Timestamp: aws.Time(d.At),
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ns := range order {
		if _, err := e.cw.PutMetricData(ctx, byNS[ns]); err != nil {
			return fmt.Errorf("localrun: publish extracted metrics: %w", err)
		}
	}
	return nil
}

// waitDocuments waits until n documents have been published in all, or ctx
// ends. Invalid documents end the wait with an error naming them.
func (e *extractor) waitDocuments(ctx context.Context, n int) error {
	return e.wait(ctx, func() bool { return e.documents >= n })
}

// waitMetric waits until a datum of metric name has been published.
func (e *extractor) waitMetric(ctx context.Context, name string) error {
	return e.wait(ctx, func() bool { return e.names[name] > 0 })
}

func (e *extractor) wait(ctx context.Context, done func() bool) error {
	stop := context.AfterFunc(ctx, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.cond.Broadcast()
	})
	defer stop()
	e.mu.Lock()
	defer e.mu.Unlock()
	for !done() {
		if len(e.invalid) > 0 {
			return fmt.Errorf("localrun: a function wrote an invalid EMF document: %w", errors.Join(e.invalid...))
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("localrun: waiting for the functions' metrics: %w", err)
		}
		e.cond.Wait()
	}
	return nil
}

// documentCount is how many documents have been published so far.
func (e *extractor) documentCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.documents
}

// lineTap writes through to next and hands every complete line to line.
type lineTap struct {
	next io.Writer
	line func([]byte)

	mu      sync.Mutex
	pending []byte
}

func (t *lineTap) Write(p []byte) (int, error) {
	n, err := t.next.Write(p)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending = append(t.pending, p...)
	for {
		i := bytes.IndexByte(t.pending, '\n')
		if i < 0 {
			break
		}
		line := bytes.Clone(t.pending[:i])
		t.pending = t.pending[i+1:]
		t.line(line)
	}
	return n, err
}

// ownLines passes on the lines a function writes itself — each a JSON
// object, as the functions log — out of everything the Runtime Interface
// Emulator prints (its own lines, START/END/REPORT). Several functions may
// share one.
type ownLines struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *ownLines) line(b []byte) {
	b = bytes.TrimSpace(b)
	// The runtime emulator may prefix a line; the function's record is the
	// JSON object that ends it, as on Lambda.
	i := bytes.IndexByte(b, '{')
	if i < 0 || b[len(b)-1] != '}' || !json.Valid(b[i:]) {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = o.w.Write(append(b[i:len(b):len(b)], '\n'))
}
