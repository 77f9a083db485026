package bench

import (
	"fmt"
	"math"
)

// US East (N. Virginia) list prices without free tier, in USD.
const (
	PriceMetricMonth     = 0.30         // per custom metric (name + dimension set) a month
	PriceAlarmMetric     = 0.10         // per standard-resolution alarm metric a month
	PriceKMSKey          = 1.00         // per customer managed key a month
	PriceLambdaRequest   = 0.20 / 1e6   // per request
	PriceLambdaGBSecond  = 0.0000133334 // arm64
	PriceDynamoDBWRU     = 0.625 / 1e6  // on demand, per write request unit
	PriceDynamoDBRRU     = 0.125 / 1e6  // on demand, per read request unit
	PriceSchedulerInvoke = 1.00 / 1e6   // EventBridge Scheduler, per invocation
	PriceLogsIngestGB    = 0.50         // CloudWatch Logs ingestion, per GB (10^9 bytes)
)

// ChecksPerMonth is one check a minute for 30 days.
const ChecksPerMonth = 43_200

// Usage is what one integration consumes, measured per check where it
// varies with the check.
type Usage struct {
	Checks       int // per month
	MetricSeries int // distinct name + dimension sets published every check
	AlarmMetrics int
	KMSKeys      int
	// Per check.
	DurationMs     float64 // the invocation's duration; billed rounded up to 1 ms
	MemoryMB       int
	DynamoDBReads  float64 // strongly consistent reads (GetItem, BatchGetItem of one key)
	DynamoDBWrites float64 // PutItem
	ItemBytes      int     // size of the state item read and written
	LogBytes       int     // log output of one invocation
}

// LineItem is one row of a monthly bill.
type LineItem struct {
	Item       string
	Arithmetic string
	USD        float64
}

// MonthlyCost prices u at list prices.
func MonthlyCost(u Usage) []LineItem {
	checks := float64(u.Checks)
	rru := math.Max(1, math.Ceil(float64(u.ItemBytes)/4096))
	wru := math.Max(1, math.Ceil(float64(u.ItemBytes)/1024))
	billedMs := math.Ceil(u.DurationMs)
	gbs := checks * billedMs / 1000 * float64(u.MemoryMB) / 1024
	logBytes := checks * float64(u.LogBytes)
	return []LineItem{
		{"Custom metrics", fmt.Sprintf("%d series × $0.30", u.MetricSeries), float64(u.MetricSeries) * PriceMetricMonth},
		{"Alarms", fmt.Sprintf("%d alarm metrics × $0.10", u.AlarmMetrics), float64(u.AlarmMetrics) * PriceAlarmMetric},
		{"KMS key (alarm topic)", fmt.Sprintf("%d × $1.00", u.KMSKeys), float64(u.KMSKeys) * PriceKMSKey},
		{"Lambda requests", fmt.Sprintf("%d × $0.20/M", u.Checks), checks * PriceLambdaRequest},
		{"Lambda compute (arm64)", fmt.Sprintf("%d × %.0f ms × %d MB = %.1f GB-s", u.Checks, billedMs, u.MemoryMB, gbs), gbs * PriceLambdaGBSecond},
		{"EventBridge Scheduler", fmt.Sprintf("%d × $1.00/M", u.Checks), checks * PriceSchedulerInvoke},
		{"DynamoDB reads", fmt.Sprintf("%g/check × %.0f RRU × %d × $0.125/M", u.DynamoDBReads, rru, u.Checks), u.DynamoDBReads * rru * checks * PriceDynamoDBRRU},
		{"DynamoDB writes", fmt.Sprintf("%g/check × %.0f WRU (%d B item) × %d × $0.625/M", u.DynamoDBWrites, wru, u.ItemBytes, u.Checks), u.DynamoDBWrites * wru * checks * PriceDynamoDBWRU},
		{"CloudWatch Logs", fmt.Sprintf("%d B × %d = %.1f MB × $0.50/GB", u.LogBytes, u.Checks, logBytes/1e6), logBytes / 1e9 * PriceLogsIngestGB},
	}
}

// Total sums line items.
func Total(items []LineItem) float64 {
	var t float64
	for _, it := range items {
		t += it.USD
	}
	return t
}

// Split divides a month's bill into what one more integration adds and
// what the stack costs whatever it watches. Marginal: the integration's own
// series and alarms, its DynamoDB read and write, its check's log output
// (its EMF documents and log lines). Fixed: the monitor's own alarms and
// series, the key, the invocations and their compute, the schedule — a
// further integration is probed in the same concurrent invocation.
type Split struct {
	IntegrationSeries, IntegrationAlarmMetrics int
	StackSeries, StackAlarmMetrics, KMSKeys    int
}

// MarginalAndFixed prices u under s: (marginal, fixed) in USD a month.
func MarginalAndFixed(u Usage, s Split) (float64, float64) {
	byItem := map[string]float64{}
	for _, it := range MonthlyCost(u) {
		byItem[it.Item] = it.USD
	}
	marginal := float64(s.IntegrationSeries)*PriceMetricMonth + float64(s.IntegrationAlarmMetrics)*PriceAlarmMetric +
		byItem["DynamoDB reads"] + byItem["DynamoDB writes"] + byItem["CloudWatch Logs"]
	fixed := float64(s.StackSeries)*PriceMetricMonth + float64(s.StackAlarmMetrics)*PriceAlarmMetric + float64(s.KMSKeys)*PriceKMSKey +
		byItem["Lambda requests"] + byItem["Lambda compute (arm64)"] + byItem["EventBridge Scheduler"]
	return marginal, fixed
}
