package stack

import (
	"encoding/json"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-monitor/vigil/internal/emulator"
)

// What moto silently skips (alarms, the schedule) and what it does not
// check (IAM), asserted on the transformed template.

var (
	warningRef  = map[string]any{"Ref": "WarningTopic"}
	criticalRef = map[string]any{"Ref": "CriticalTopic"}
	tableArn    = map[string]any{"Fn::GetAtt": []any{"VigilTable", "Arn"}}
	queueArn    = map[string]any{"Fn::GetAtt": []any{"HealthCheckFailureQueue", "Arn"}}
	smRef       = map[string]any{"Ref": "RecoveryStateMachine"}
	healthArn   = map[string]any{"Fn::GetAtt": []any{"HealthCheckFunction", "Arn"}}
	// selfArn is the HealthCheck's ARN as its own role names it.
	selfArn = map[string]any{"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-healthcheck"}
	// topicKey is the key of both topics: the one the stack creates, or
	// the one TopicKmsKeyArn names.
	topicKey = map[string]any{"Fn::If": []any{"CreateTopicKey",
		map[string]any{"Fn::GetAtt": []any{"VigilTopicKey", "Arn"}}, map[string]any{"Ref": "TopicKmsKeyArn"}}}
	// The alarm and dashboard scopes of the HealthCheck role.
	integrationAlarms = map[string]any{"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AWS::StackName}/*/*"}
	stackAlarms       = map[string]any{"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AWS::StackName}/*"}
	stackDashboard    = map[string]any{"Fn::Sub": "arn:${AWS::Partition}:cloudwatch::${AWS::AccountId}:dashboard/${AWS::StackName}"}
)

// severityTopic is the topic of severity's ALARM and OK actions.
var severityTopic = map[string]any{"warning": warningRef, "critical": criticalRef}

// wantAlarm is one of the monitor's own alarms as SPEC section 5 and the
// cost budget want it. The integrations' alarms are not in the template:
// internal/alerting creates them from the document.
type wantAlarm struct {
	id        string
	condition string // "" when always created
	severity  string // picks the topic; first word of the description
	name      string
	namespace string
	metric    string
	dims      map[string]any
	stat      string
	period    float64
	threshold float64
	operator  string
	missing   string
}

// TestAlarms checks the alarms of a single-region stack (what a default
// deploy makes); TestRegionStacks those of a multi-region home and of a
// probe-only stack.
func TestAlarms(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	const (
		ge, lt       = "GreaterThanOrEqualToThreshold", "LessThanThreshold"
		warn, critic = "warning", "critical"
	)
	fn := func(id string) map[string]any { return map[string]any{"FunctionName": map[string]any{"Ref": id}} }
	want := []wantAlarm{
		// The monitor blind: checks stop, fail or see nothing.
		{"HeartbeatAlarm", "", critic, "vigil/heartbeat", "AWS/Lambda", "Invocations", fn("HealthCheckFunction"), "Sum", 60, 1, lt, "breaching"},
		{"CheckerImpairedAlarm", "", critic, "vigil/checker-impaired", "Vigil", "CheckerImpaired", nil, "Maximum", 60, 1, ge, "notBreaching"},
		{"HealthCheckFunctionAlarm", "CreateFunctionAlarms", critic, "vigil/healthcheck-errors", "AWS/Lambda", "Errors", fn("HealthCheckFunction"), "Sum", 60, 1, ge, "notBreaching"},
		// One check lost or ignored, or a function nobody waits on failed.
		{"StaleTicksAlarm", "", warn, "vigil/stale-ticks", "Vigil", "StaleTicks", nil, "Sum", 300, 1, ge, "notBreaching"},
		{"AlertingFailedAlarm", "", warn, "vigil/alerting-failed", "Vigil", "AlertingFailed", nil, "Sum", 60, 1, ge, "notBreaching"},
		// A slice of the integrations unchecked: shards that failed after a retry.
		{"ShardsFailedAlarm", "", warn, "vigil/shards-failed", "Vigil", "ShardsFailed", nil, "Sum", 60, 1, ge, "notBreaching"},
		{"FailedChecksAlarm", "", warn, "vigil/failed-checks", "AWS/SQS", "ApproximateNumberOfMessagesVisible", map[string]any{"QueueName": map[string]any{"Fn::GetAtt": []any{"HealthCheckFailureQueue", "QueueName"}}}, "Maximum", 300, 1, ge, "notBreaching"},
		{"RecoveryFunctionAlarm", "CreateFunctionAlarms", warn, "vigil/recovery-errors", "AWS/Lambda", "Errors", fn("RecoveryFunction"), "Sum", 60, 1, ge, "notBreaching"},
		{"StatusFunctionAlarm", "CreateFunctionAlarms", warn, "vigil/status-errors", "AWS/Lambda", "Errors", fn("StatusFunction"), "Sum", 60, 1, ge, "notBreaching"},
	}
	alarms := resolvedAlarms(tr, tr.home(t))
	if len(alarms) != len(want) {
		t.Errorf("%d alarms, want %d (each costs at least $0.10 a month: add one to this table only on purpose)", len(alarms), len(want))
	}
	for _, w := range want {
		t.Run(w.id, func(t *testing.T) {
			r, ok := alarms[w.id]
			if !ok {
				t.Fatalf("alarm %s missing", w.id)
			}
			if got, _ := r["Condition"].(string); got != w.condition {
				t.Errorf("Condition = %q, want %q", got, w.condition)
			}
			p := r["Properties"].(map[string]any)
			check := func(field string, want any) {
				t.Helper()
				if got := p[field]; !reflect.DeepEqual(num(got), num(want)) {
					t.Errorf("%s = %#v, want %#v", field, got, want)
				}
			}
			check("AlarmName", w.name)
			check("Threshold", w.threshold)
			check("ComparisonOperator", w.operator)
			check("TreatMissingData", w.missing)
			// ALARM and OK both go to the severity's topic, so whoever
			// is paged sees it end; the description says which.
			check("AlarmActions", []any{severityTopic[w.severity]})
			check("OKActions", []any{severityTopic[w.severity]})
			if d, _ := p["AlarmDescription"].(string); !strings.HasPrefix(d, w.severity+": ") {
				t.Errorf("AlarmDescription %q, want it to start with %q", d, w.severity+": ")
			}
			if _, set := p["InsufficientDataActions"]; set {
				t.Errorf("InsufficientDataActions set: missing data is each alarm's TreatMissingData")
			}
			ns, metric, dims, stat, period := p["Namespace"], p["MetricName"], p["Dimensions"], p["Statistic"], p["Period"]
			if ns != w.namespace || metric != w.metric || stat != w.stat || num(period) != w.period {
				t.Errorf("metric %v/%v %v period %v, want %s/%s %s period %v", ns, metric, stat, period, w.namespace, w.metric, w.stat, w.period)
			}
			if got := dimMap(dims); !reflect.DeepEqual(got, w.dims) && (len(got) != 0 || len(w.dims) != 0) {
				t.Errorf("dimensions %v, want %v", got, w.dims)
			}
		})
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	schedules := tr.home(t).ofType("AWS::Scheduler::Schedule")
	if len(schedules) != 1 {
		t.Fatalf("%d schedules, want 1", len(schedules))
	}
	for id, s := range schedules {
		p := resolve(s["Properties"], rootParams(tr)).(map[string]any)
		if p["ScheduleExpression"] != "rate(1 minute)" {
			t.Errorf("%s: ScheduleExpression %v", id, p["ScheduleExpression"])
		}
		if p["Name"] != "vigil-healthcheck" {
			t.Errorf("%s: Name %v, want one per stack", id, p["Name"])
		}
		if !reflect.DeepEqual(p["FlexibleTimeWindow"], map[string]any{"Mode": "OFF"}) {
			t.Errorf("%s: FlexibleTimeWindow %v", id, p["FlexibleTimeWindow"])
		}
		target := p["Target"].(map[string]any)
		if !reflect.DeepEqual(target["Arn"], map[string]any{"Fn::GetAtt": []any{"HealthCheckFunction", "Arn"}}) {
			t.Errorf("target %v", target["Arn"])
		}
		retry := target["RetryPolicy"].(map[string]any)
		if num(retry["MaximumEventAgeInSeconds"]) != 60.0 || num(retry["MaximumRetryAttempts"]).(float64) > 2 {
			t.Errorf("RetryPolicy %v: a stale tick must not be replayed late", retry)
		}
		if !reflect.DeepEqual(target["DeadLetterConfig"], map[string]any{"Arn": queueArn}) {
			t.Errorf("DeadLetterConfig %v", target["DeadLetterConfig"])
		}
		var input struct {
			ScheduledTime string   `json:"scheduled_time"`
			Integrations  []string `json:"integrations"`
		}
		if err := json.Unmarshal([]byte(target["Input"].(string)), &input); err != nil {
			t.Fatalf("Input: %v", err)
		}
		if input.ScheduledTime != "<aws.scheduler.scheduled-time>" || input.Integrations == nil || len(input.Integrations) != 0 {
			t.Errorf("Input %+v, want the scheduled-time placeholder and an empty integrations list", input)
		}
		// The scheduler's role may invoke the function and write the queue,
		// nothing else, and only the scheduler of this account assumes it.
		role := tr.home(t).resource(t, "HealthCheckFunctionTickRole", "AWS::IAM::Role")
		if !reflect.DeepEqual(target["RoleArn"], map[string]any{"Fn::GetAtt": []any{"HealthCheckFunctionTickRole", "Arn"}}) {
			t.Errorf("schedule role %v", target["RoleArn"])
		}
		trust := role["Properties"].(map[string]any)["AssumeRolePolicyDocument"].(map[string]any)["Statement"].([]any)
		if len(trust) != 1 || !reflect.DeepEqual(trust[0].(map[string]any)["Principal"], map[string]any{"Service": "scheduler.amazonaws.com"}) {
			t.Errorf("schedule role trusts %v, want the scheduler only", trust)
		}
		for _, st := range statements(role) {
			switch st.actions[0] {
			case "lambda:InvokeFunction":
				if !reflect.DeepEqual(st.resources, []any{target["Arn"]}) {
					t.Errorf("scheduler invokes %v", st.resources)
				}
			case "sqs:SendMessage":
				if !reflect.DeepEqual(st.resources, []any{queueArn}) {
					t.Errorf("scheduler writes %v", st.resources)
				}
			default:
				t.Errorf("scheduler role allows %v", st.actions)
			}
		}
	}
}

func TestEventInvokeConfig(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	p := tr.home(t).resource(t, "HealthCheckFunctionEventInvokeConfig", "AWS::Lambda::EventInvokeConfig")["Properties"].(map[string]any)
	if num(p["MaximumRetryAttempts"]) != 0.0 || num(p["MaximumEventAgeInSeconds"]) != 60.0 {
		t.Errorf("retries %v, max age %v: want 0 and 60", p["MaximumRetryAttempts"], p["MaximumEventAgeInSeconds"])
	}
	dest := p["DestinationConfig"].(map[string]any)["OnFailure"].(map[string]any)["Destination"]
	if !reflect.DeepEqual(dest, queueArn) {
		t.Errorf("OnFailure destination %v", dest)
	}
	q := tr.home(t).resource(t, "HealthCheckFailureQueue", "AWS::SQS::Queue")["Properties"].(map[string]any)
	if q["SqsManagedSseEnabled"] != true {
		t.Errorf("failure queue not encrypted: %v", q)
	}
}

func TestFunctionSettings(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	params := rootParams(tr)
	for _, tc := range []struct {
		id, name         string
		timeout, memory  float64
		envStateMachine  bool
		logGroupResource string
	}{
		{"HealthCheckFunction", "vigil-healthcheck", 50, 256, true, "HealthCheckLogGroup"},
		{"RecoveryFunction", "vigil-recovery", 60, 256, false, "RecoveryLogGroup"},
		{"StatusFunction", "vigil-status", 10, 128, false, "StatusLogGroup"},
	} {
		r := tr.home(t).resource(t, tc.id, "AWS::Lambda::Function")
		if md, _ := r["Metadata"].(map[string]any); md["BuildMethod"] != "makefile" {
			t.Errorf("%s: Metadata %v, want BuildMethod makefile", tc.id, md)
		}
		p := resolve(r["Properties"], params).(map[string]any)
		if p["FunctionName"] != tc.name || num(p["Timeout"]) != tc.timeout || num(p["MemorySize"]) != tc.memory {
			t.Errorf("%s: name %v timeout %v memory %v", tc.id, p["FunctionName"], p["Timeout"], p["MemorySize"])
		}
		lc := p["LoggingConfig"].(map[string]any)
		if lc["LogFormat"] != "JSON" || !reflect.DeepEqual(lc["LogGroup"], map[string]any{"Ref": tc.logGroupResource}) {
			t.Errorf("%s: LoggingConfig %v", tc.id, lc)
		}
		lg := resolve(tr.home(t).resource(t, tc.logGroupResource, "AWS::Logs::LogGroup")["Properties"], params).(map[string]any)
		if lg["LogGroupName"] != "/aws/lambda/"+tc.name || num(lg["RetentionInDays"]) != 14.0 {
			t.Errorf("%s: log group %v", tc.id, lg)
		}
		_, hasSM := p["Environment"].(map[string]any)["Variables"].(map[string]any)["VIGIL_STATE_MACHINE_ARN"]
		if hasSM != tc.envStateMachine {
			t.Errorf("%s: VIGIL_STATE_MACHINE_ARN present %v", tc.id, hasSM)
		}
	}
	url := tr.home(t).resource(t, "StatusFunctionUrl", "AWS::Lambda::Url")["Properties"].(map[string]any)
	if url["AuthType"] != "AWS_IAM" {
		t.Errorf("status function URL auth %v", url["AuthType"])
	}
}

// statement is one IAM statement with its actions and resources as lists.
type statement struct {
	actions   []string
	resources []any
	condition any
	cond      string // the Fn::If condition guarding its policy, if any
}

// statements lists a role's inline policy statements, including those
// behind an Fn::If (true branch).
func statements(role map[string]any) []statement {
	var out []statement
	policies, _ := role["Properties"].(map[string]any)["Policies"].([]any)
	for _, pol := range policies {
		pm := pol.(map[string]any)
		cond := ""
		if ifv, ok := pm["Fn::If"].([]any); ok {
			cond = ifv[0].(string)
			pm = ifv[1].(map[string]any)
		}
		doc := pm["PolicyDocument"].(map[string]any)
		for _, s := range doc["Statement"].([]any) {
			sm := s.(map[string]any)
			st := statement{condition: sm["Condition"], cond: cond}
			switch a := sm["Action"].(type) {
			case string:
				st.actions = []string{a}
			case []any:
				for _, e := range a {
					st.actions = append(st.actions, e.(string))
				}
			}
			if rs, ok := sm["Resource"].([]any); ok {
				st.resources = rs
			} else {
				st.resources = []any{sm["Resource"]}
			}
			out = append(out, st)
		}
	}
	return out
}

func TestIAMLeastPrivilege(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	tableActions := []string{"dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:PutItem"}
	// What the HealthCheck may do to CloudWatch, by action: its own
	// integrations' alarms (created from the document), listing the
	// stack's alarms, its one dashboard. Nothing else anywhere: no
	// PutMetricData (metrics leave as EMF log lines), no
	// Disable/EnableAlarmActions (maintenance sets ActionsEnabled instead).
	alarmsOnly := map[string]any{"ForAllValues:StringEquals": map[string]any{"cloudwatch:AlarmActions": []any{warningRef, criticalRef}}}
	healthCheckCloudWatch := map[string]struct {
		resource  any
		condition any
	}{
		"cloudwatch:PutMetricAlarm":   {integrationAlarms, alarmsOnly},
		"cloudwatch:DeleteAlarms":     {integrationAlarms, nil},
		"cloudwatch:DescribeAlarms":   {stackAlarms, nil},
		"cloudwatch:PutDashboard":     {stackDashboard, nil},
		"cloudwatch:GetDashboard":     {stackDashboard, nil},
		"cloudwatch:DeleteDashboards": {stackDashboard, nil},
	}
	for _, tc := range []struct {
		role                      string
		table                     []string
		startsRecovery, publishes bool
		cloudwatch                int // how many of healthCheckCloudWatch
	}{
		{"HealthCheckFunctionRole", []string{"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:PutItem"}, true, true, len(healthCheckCloudWatch)},
		{"RecoveryFunctionRole", tableActions, false, true, 0},
		{"StatusFunctionRole", []string{"dynamodb:GetItem", "dynamodb:Query"}, false, false, 0},
	} {
		t.Run(tc.role, func(t *testing.T) {
			role := tr.home(t).resource(t, tc.role, "AWS::IAM::Role")
			var table []string
			var started, described, published, invokesItself bool
			cloudwatch := map[string]bool{}
			for _, st := range statements(role) {
				for _, a := range st.actions {
					if strings.HasSuffix(a, "*") {
						t.Errorf("wildcard action %s", a)
					}
					service, _, _ := strings.Cut(a, ":")
					switch {
					case service == "dynamodb":
						table = append(table, a)
						if !reflect.DeepEqual(st.resources, []any{tableArn}) {
							t.Errorf("%s on %v, want the table ARN only", a, st.resources)
						}
					case a == "states:StartExecution":
						started = true
						if !reflect.DeepEqual(st.resources, []any{smRef}) {
							t.Errorf("%s on %v, want the state machine only", a, st.resources)
						}
					case a == "states:DescribeExecution":
						// Looks up its own recovery executions only.
						want := map[string]any{"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${RecoveryStateMachine.Name}:*"}
						if tc.role != "HealthCheckFunctionRole" || !reflect.DeepEqual(st.resources, []any{want}) {
							t.Errorf("%s on %v for %s, want the HealthCheck role on the state machine's executions only", a, st.resources, tc.role)
						}
						described = true
					case a == "sns:Publish":
						published = true
						if !reflect.DeepEqual(st.resources, []any{warningRef, criticalRef}) {
							t.Errorf("%s on %v, want exactly the warning and critical topics", a, st.resources)
						}
					case a == "ssm:GetParameter" || a == "secretsmanager:GetSecretValue":
						for _, r := range st.resources {
							sub, _ := r.(map[string]any)["Fn::Sub"].(string)
							if !strings.Contains(sub, "${SecretsPrefix}") && !strings.Contains(sub, "${ConfigParameterName}") {
								t.Errorf("%s on %v, want the secrets prefix or the config parameter", a, r)
							}
						}
						if strings.Contains(a, "ssm") && st.cond != "" && st.cond != "HasConfigParameter" {
							t.Errorf("config read guarded by %s", st.cond)
						}
					case (a == "kms:GenerateDataKey" || a == "kms:Decrypt") && tc.publishes:
						// Only when the topic is encrypted at all.
						if st.cond != "EncryptTopic" {
							t.Errorf("%s granted unless EncryptTopic (%q)", a, st.cond)
						}
						via := map[string]any{"StringEquals": map[string]any{"kms:ViaService": map[string]any{"Fn::Sub": "sns.${AWS::Region}.amazonaws.com"}}}
						if !reflect.DeepEqual(st.resources, []any{topicKey}) || !reflect.DeepEqual(st.condition, via) {
							t.Errorf("%s on %v if %v, want the topics' key through SNS only", a, st.resources, st.condition)
						}
					case strings.HasPrefix(a, "cloudwatch:"):
						want, ok := healthCheckCloudWatch[a]
						if !ok || tc.role != "HealthCheckFunctionRole" {
							t.Errorf("%s on %v for %s: only the HealthCheck converges alarms and the dashboard, with %v", a, st.resources, tc.role, slices.Sorted(maps.Keys(healthCheckCloudWatch)))
							continue
						}
						cloudwatch[a] = true
						if !reflect.DeepEqual(st.resources, []any{want.resource}) || !reflect.DeepEqual(st.condition, want.condition) || st.cond != "" {
							t.Errorf("%s on %v if %v (policy condition %q), want %v if %v", a, st.resources, st.condition, st.cond, want.resource, want.condition)
						}
					case a == "sqs:SendMessage" && tc.role == "HealthCheckFunctionRole":
						if !reflect.DeepEqual(st.resources, []any{queueArn}) {
							t.Errorf("%s on %v", a, st.resources)
						}
					case a == "lambda:InvokeFunction" && tc.role == "RecoveryFunctionRole":
						if st.cond != "HasRecoveryTargets" {
							t.Errorf("lambda:InvokeFunction not guarded by HasRecoveryTargets")
						}
					case a == "lambda:InvokeFunction" && tc.role == "HealthCheckFunctionRole":
						// Its own shards: itself, by name (a GetAtt on the
						// function from its own role would be circular).
						invokesItself = true
						if !reflect.DeepEqual(st.resources, []any{selfArn}) || st.cond != "" {
							t.Errorf("%s on %v (policy condition %q), want exactly its own ARN %v", a, st.resources, st.cond, selfArn)
						}
					default:
						t.Errorf("unexpected action %s on %v", a, st.resources)
					}
				}
			}
			slices.Sort(table)
			if !slices.Equal(table, tc.table) {
				t.Errorf("table actions %v, want %v", table, tc.table)
			}
			if described != tc.startsRecovery {
				t.Errorf("DescribeExecution %v, want %v (whoever starts executions must find those that ended unrecorded)", described, tc.startsRecovery)
			}
			if started != tc.startsRecovery || published != tc.publishes {
				t.Errorf("StartExecution %v, Publish %v; want %v %v", started, published, tc.startsRecovery, tc.publishes)
			}
			if invokesItself != (tc.role == "HealthCheckFunctionRole") {
				t.Errorf("invokes itself %v: only the HealthCheck fans out to its shards", invokesItself)
			}
			if len(cloudwatch) != tc.cloudwatch {
				t.Errorf("CloudWatch actions %v, want %d of %v", slices.Sorted(maps.Keys(cloudwatch)), tc.cloudwatch, slices.Sorted(maps.Keys(healthCheckCloudWatch)))
			}
			if arns, _ := role["Properties"].(map[string]any)["ManagedPolicyArns"].([]any); len(arns) != 1 ||
				!strings.Contains(arns[0].(string), "AWSLambdaBasicExecutionRole") {
				t.Errorf("managed policies %v, want only AWSLambdaBasicExecutionRole", arns)
			}
		})
	}
}

func TestStateMachineDefinition(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	p := tr.home(t).resource(t, "RecoveryStateMachine", "AWS::StepFunctions::StateMachine")["Properties"].(map[string]any)
	if p["StateMachineType"] != "STANDARD" {
		t.Errorf("type %v", p["StateMachineType"])
	}
	subs := p["DefinitionSubstitutions"].(map[string]any)
	if !reflect.DeepEqual(subs["RecoveryFunctionArn"], map[string]any{"Fn::GetAtt": []any{"RecoveryFunction", "Arn"}}) {
		t.Errorf("DefinitionSubstitutions %v", subs)
	}
	ld := p["LoggingConfiguration"].(map[string]any)
	if ld["Level"] != "ERROR" {
		t.Errorf("logging level %v", ld["Level"])
	}
	// Exactly the function's ARN: SAM's LambdaInvokePolicy would grant
	// function:<name>*, every function whose name starts the same.
	role := tr.home(t).resource(t, "RecoveryStateMachineRole", "AWS::IAM::Role")
	invokes := 0
	for _, st := range statements(role) {
		if slices.Contains(st.actions, "lambda:InvokeFunction") {
			invokes++
			if !reflect.DeepEqual(st.resources, []any{map[string]any{"Fn::GetAtt": []any{"RecoveryFunction", "Arn"}}}) {
				t.Errorf("state machine invokes %v, want exactly the Recovery function's ARN", st.resources)
			}
		}
	}
	if invokes != 1 {
		t.Errorf("%d statements grant lambda:InvokeFunction, want 1", invokes)
	}
}

// resolvedAlarms returns every alarm of d (the template, or one stack of it)
// by logical id, with parameters replaced by their defaults.
func resolvedAlarms(tr *transformed, d doc) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range d.ofType("AWS::CloudWatch::Alarm") {
		out[id] = resolve(r, rootParams(tr)).(map[string]any)
	}
	return out
}

// dimMap turns a CloudFormation Dimensions list into name → value.
func dimMap(v any) map[string]any {
	list, _ := v.([]any)
	if len(list) == 0 {
		return nil
	}
	out := map[string]any{}
	for _, d := range list {
		dm := d.(map[string]any)
		out[dm["Name"].(string)] = dm["Value"]
	}
	return out
}

// num makes numbers comparable whatever their JSON or Go type.
func num(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	return v
}

func TestOutputs(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	outputs, _ := tr.home(t)["Outputs"].(map[string]any)
	want := map[string]any{
		"TableName":               map[string]any{"Ref": "VigilTable"},
		"WarningTopicArn":         warningRef,
		"CriticalTopicArn":        criticalRef,
		"StateMachineArn":         smRef,
		"StatusFunctionUrl":       map[string]any{"Fn::GetAtt": []any{"StatusFunctionUrl", "FunctionUrl"}},
		"HealthCheckFunctionName": map[string]any{"Ref": "HealthCheckFunction"},
		// The dashboard the HealthCheck creates from the document is named
		// exactly after the stack.
		"DashboardUrl": map[string]any{"Fn::Sub": "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}#dashboards:name=${AWS::StackName}"},
	}
	if len(outputs) != len(want) {
		t.Errorf("%d outputs, want %d", len(outputs), len(want))
	}
	for name, v := range want {
		o, _ := outputs[name].(map[string]any)
		if !reflect.DeepEqual(o["Value"], v) {
			t.Errorf("output %s = %v, want %v", name, o["Value"], v)
		}
	}
}

// Every function that is told where something lives — the config
// parameter, the topic, the state machine, the table — may use it: the
// environment and the role come from different places of the template, and
// a function told of a resource it cannot read fails only in production
// (the Status function once answered 500 whenever ConfigParameterName was
// set). Checked on the transformed template.
func TestEnvironmentIsReadable(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	functions := 0
	for id, r := range tr.home(t)["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] != "AWS::Lambda::Function" {
			continue
		}
		functions++
		props := res["Properties"].(map[string]any)
		env := props["Environment"].(map[string]any)["Variables"].(map[string]any)
		roleID := props["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
		sts := statements(tr.home(t).resource(t, roleID, "AWS::IAM::Role"))
		can := func(action string, resource any, cond string) bool {
			for _, st := range sts {
				if slices.Contains(st.actions, action) && slices.ContainsFunc(st.resources, func(r any) bool { return reflect.DeepEqual(r, resource) }) &&
					(cond == "" || st.cond == cond) {
					return true
				}
			}
			return false
		}
		type grant struct {
			action   string
			resource any
			cond     string
		}
		t.Run(id, func(t *testing.T) {
			for name, wants := range map[string][]grant{
				"VIGIL_CONFIG_PARAMETER": {{"ssm:GetParameter", map[string]any{"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ConfigParameterName}"}, "HasConfigParameter"}},
				// A topic may be encrypted: whoever publishes needs its key.
				"VIGIL_WARNING_TOPIC_ARN":  {{"sns:Publish", warningRef, ""}, {"kms:GenerateDataKey", topicKey, "EncryptTopic"}},
				"VIGIL_CRITICAL_TOPIC_ARN": {{"sns:Publish", criticalRef, ""}, {"kms:GenerateDataKey", topicKey, "EncryptTopic"}},
				"VIGIL_STATE_MACHINE_ARN":  {{"states:StartExecution", smRef, ""}},
				"VIGIL_TABLE":              {{"dynamodb:GetItem", tableArn, ""}},
				// The stack's name scopes the alarms and the dashboard the
				// function converges on the document, and removes at deletion.
				"VIGIL_STACK_NAME": {
					{"cloudwatch:DescribeAlarms", stackAlarms, ""},
					{"cloudwatch:PutMetricAlarm", integrationAlarms, ""},
					{"cloudwatch:DeleteAlarms", integrationAlarms, ""},
					{"cloudwatch:GetDashboard", stackDashboard, ""},
					{"cloudwatch:PutDashboard", stackDashboard, ""},
					{"cloudwatch:DeleteDashboards", stackDashboard, ""},
				},
			} {
				if _, told := env[name]; !told {
					continue
				}
				for _, w := range wants {
					if !can(w.action, w.resource, w.cond) {
						t.Errorf("environment names %s, but the role may not %s %v", name, w.action, w.resource)
					}
				}
			}
			// Either topic without the other is a severity silently lost.
			_, warns := env["VIGIL_WARNING_TOPIC_ARN"]
			_, pages := env["VIGIL_CRITICAL_TOPIC_ARN"]
			if warns != pages {
				t.Errorf("told the warning topic %v, the critical topic %v: want both or neither", warns, pages)
			}
			if _, old := env["VIGIL_TOPIC_ARN"]; old {
				t.Errorf("VIGIL_TOPIC_ARN is read by no function any more")
			}
		})
	}
	if functions != 3 {
		t.Fatalf("%d functions in the transformed template, want 3", functions)
	}
}

// TopicKmsKeyArn is an IAM resource of the functions' roles: a key id or an
// alias there would leave them unable to publish, so CloudFormation refuses
// anything but a key ARN before the stack is touched.
func TestTopicKeyMustBeAnARN(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	param := tr.home(t)["Parameters"].(map[string]any)["TopicKmsKeyArn"].(map[string]any)
	pattern, _ := param["AllowedPattern"].(string)
	re, err := regexp.Compile(pattern)
	if err != nil || pattern == "" {
		t.Fatalf("AllowedPattern %q: %v", pattern, err)
	}
	for v, ok := range map[string]bool{
		"":       true, // no encryption at rest
		"create": true, // the stack creates a key
		"arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab":            true,
		"arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab": true,
		"1234abcd-12ab-34cd-56ef-1234567890ab":                                                   false,
		"alias/vigil":                                                                            false,
		"arn:aws:kms:eu-west-1:123456789012:alias/vigil":                                         false,
		"arn:aws:kms:eu-west-1:123456789012:key/*":                                               false,
	} {
		if re.MatchString(v) != ok {
			t.Errorf("TopicKmsKeyArn %q accepted = %v, want %v", v, !ok, ok)
		}
	}
}

// Two topics, one per severity, each with its optional email subscription,
// both encrypted alike (TopicKmsKeyArn: none, the stack's key, or a key ARN).
func TestTopics(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	if n := len(tr.home(t).ofType("AWS::SNS::Topic")); n != 2 {
		t.Errorf("%d topics, want 2 (warning and critical)", n)
	}
	key := map[string]any{"Fn::If": []any{"EncryptTopic",
		map[string]any{"Fn::If": []any{"CreateTopicKey", map[string]any{"Ref": "VigilTopicKey"}, map[string]any{"Ref": "TopicKmsKeyArn"}}},
		map[string]any{"Ref": "AWS::NoValue"}}}
	conditions := tr.home(t)["Conditions"].(map[string]any)
	params := tr.home(t)["Parameters"].(map[string]any)
	for _, tc := range []struct{ topic, subscription, condition, email string }{
		{"WarningTopic", "WarningTopicEmailSubscription", "HasWarningEmail", "WarningEmail"},
		{"CriticalTopic", "CriticalTopicEmailSubscription", "HasCriticalEmail", "CriticalEmail"},
	} {
		p := tr.home(t).resource(t, tc.topic, "AWS::SNS::Topic")["Properties"].(map[string]any)
		if !reflect.DeepEqual(p["KmsMasterKeyId"], key) {
			t.Errorf("%s: KmsMasterKeyId %v, want %v", tc.topic, p["KmsMasterKeyId"], key)
		}
		sub := tr.home(t).resource(t, tc.subscription, "AWS::SNS::Subscription")
		sp := sub["Properties"].(map[string]any)
		if sub["Condition"] != tc.condition || !reflect.DeepEqual(sp["TopicArn"], map[string]any{"Ref": tc.topic}) ||
			sp["Protocol"] != "email" || !reflect.DeepEqual(sp["Endpoint"], map[string]any{"Ref": tc.email}) {
			t.Errorf("%s: %v", tc.subscription, sub)
		}
		// Optional: no address, no subscription.
		want := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": tc.email}, ""}}}}
		if !reflect.DeepEqual(conditions[tc.condition], want) {
			t.Errorf("condition %s = %v, want %v", tc.condition, conditions[tc.condition], want)
		}
		if def := params[tc.email].(map[string]any)["Default"]; def != "" {
			t.Errorf("%s default %v, want empty", tc.email, def)
		}
	}
	for _, gone := range []string{"AlarmEmail", "MonitoredIntegration", "BodyMetricComponent", "WarningAlarms"} {
		if _, ok := params[gone]; ok {
			t.Errorf("parameter %s is still there", gone)
		}
	}
}

// dependencies returns the logical ids of the resources r refers to: its
// DependsOn, and every Ref, Fn::GetAtt and Fn::Sub variable naming a
// resource in its Properties or its Metadata (CloudFormation orders both).
func dependencies(d doc, r map[string]any) map[string]bool {
	res := d.resources()
	out := map[string]bool{}
	add := func(id string) {
		if _, ok := res[id]; ok {
			out[id] = true
		}
	}
	switch dep := r["DependsOn"].(type) {
	case string:
		add(dep)
	case []any:
		for _, id := range dep {
			add(id.(string))
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				switch k {
				case "Ref":
					if id, ok := e.(string); ok {
						add(id)
					}
				case "Fn::GetAtt":
					if l, ok := e.([]any); ok && len(l) > 0 {
						add(l[0].(string))
					}
				case "Fn::Sub":
					str, _ := e.(string)
					if l, ok := e.([]any); ok && len(l) > 0 {
						str, _ = l[0].(string)
					}
					for _, m := range subVarRE.FindAllStringSubmatch(str, -1) {
						id, _, _ := strings.Cut(m[1], ".")
						add(id)
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(r["Properties"])
	walk(r["Metadata"])
	return out
}

// dependsOn reports whether resource from depends on resource to, directly
// or through others: CloudFormation then deletes from before to.
func dependsOn(d doc, from, to string) bool {
	seen := map[string]bool{}
	next := []string{from}
	for len(next) > 0 {
		id := next[len(next)-1]
		next = next[:len(next)-1]
		r, _ := d.resources()[id].(map[string]any)
		for dep := range dependencies(d, r) {
			if dep == to {
				return true
			}
			if !seen[dep] {
				seen[dep] = true
				next = append(next, dep)
			}
		}
	}
	return false
}

// The integrations' alarms and the dashboard are made at run time, so the
// stack asks the HealthCheck to remove them when it is deleted: a custom
// resource served by the function, deleted after every schedule that could
// recreate them and before the function and the role that can remove them.
func TestAlertingCleanup(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	d := tr.home(t)
	r := d.resource(t, "AlertingCleanup", "Custom::VigilAlerting")
	p := r["Properties"].(map[string]any)
	if !reflect.DeepEqual(p["ServiceToken"], healthArn) {
		t.Errorf("ServiceToken %v, want the HealthCheck function's ARN", p["ServiceToken"])
	}
	if !reflect.DeepEqual(p["StackName"], map[string]any{"Ref": "AWS::StackName"}) {
		t.Errorf("StackName %v, want the stack's name", p["StackName"])
	}
	// CloudFormation invokes the function asynchronously and the function
	// allows no retry: a lost answer holds the deletion until this, not the
	// hour CloudFormation waits by default. Long enough for the function's
	// own timeout.
	timeout := num(d.resource(t, "HealthCheckFunction", "AWS::Lambda::Function")["Properties"].(map[string]any)["Timeout"]).(float64)
	if st, ok := num(p["ServiceTimeout"]).(float64); !ok || st < 2*timeout || st >= 3600 {
		t.Errorf("ServiceTimeout %v, want at least twice the function's %v s and under an hour", p["ServiceTimeout"], timeout)
	}
	if len(p) != 3 {
		t.Errorf("properties %v, want ServiceToken, ServiceTimeout and StackName", p)
	}

	// The schedule names it, as the template says why: in its Metadata,
	// because AlertingCleanup is a home stack's only and DependsOn cannot
	// be conditional (TestRegionStacks checks the probe-only stack has
	// neither).
	schedule := d.resource(t, "HealthCheckFunctionTick", "AWS::Scheduler::Schedule")
	if md, _ := schedule["Metadata"].(map[string]any); !reflect.DeepEqual(md["DeletedBefore"], map[string]any{"Ref": "AlertingCleanup"}) {
		t.Errorf("schedule Metadata %v, want DeletedBefore: !Ref AlertingCleanup", schedule["Metadata"])
	}
	// Deletion order, from the whole dependency graph: whatever invokes the
	// HealthCheck on a timer goes first; the function and its role (whose
	// policy grants DeleteAlarms and DeleteDashboards) go after.
	for id, res := range d.resources() {
		kind := res.(map[string]any)["Type"]
		if kind != "AWS::Scheduler::Schedule" && kind != "AWS::Events::Rule" {
			continue
		}
		if !dependsOn(d, id, "AlertingCleanup") {
			t.Errorf("%s (%s) may be deleted after AlertingCleanup and recreate what it removed", id, kind)
		}
	}
	for _, id := range []string{"HealthCheckFunction", "HealthCheckFunctionRole"} {
		if !dependsOn(d, "AlertingCleanup", id) {
			t.Errorf("AlertingCleanup does not depend on %s: it could be deleted before the clean-up runs", id)
		}
		if dependsOn(d, id, "AlertingCleanup") {
			t.Errorf("%s depends on AlertingCleanup: a cycle", id)
		}
	}
	// Nothing of the nested alarms stack or the template's dashboard is left.
	for _, kind := range []string{"AWS::CloudFormation::Stack", "AWS::Serverless::Application", "AWS::CloudWatch::Dashboard"} {
		if n := len(d.ofType(kind)); n != 0 {
			t.Errorf("%d resources of type %s: alarms and dashboard come from the document", n, kind)
		}
	}
}

// iamMatch reports whether an IAM resource pattern (with * and ?) matches
// arn, as IAM compares them: case-sensitively, * across any characters,
// "/" and ":" included.
func iamMatch(pattern, arn string) bool {
	var re strings.Builder
	re.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(arn)
}

// The HealthCheck's CloudWatch grants, resolved for a stack named "vigil",
// reach exactly the names internal/alerting uses ("vigil/<integration>/<name>"
// alarms and the "vigil" dashboard): not another stack's, and the
// template's own alarms ("vigil/heartbeat") only to be read.
func TestAlertingScopes(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	role := tr.home(t).resource(t, "HealthCheckFunctionRole", "AWS::IAM::Role")
	granted := map[string][]string{}
	for _, st := range statements(role) {
		for _, a := range st.actions {
			if !strings.HasPrefix(a, "cloudwatch:") {
				continue
			}
			for _, r := range st.resources {
				arn, ok := resolve(r, rootParams(tr)).(string)
				if !ok {
					t.Fatalf("%s on %v: not resolved", a, r)
				}
				granted[a] = append(granted[a], arn)
			}
		}
	}
	const (
		alarm = "arn:aws:cloudwatch:" + emulator.Region + ":123456789012:alarm:"
		dash  = "arn:aws:cloudwatch::123456789012:dashboard/"
	)
	integration := []string{
		alarm + "vigil/agent-bridge/consecutive-failures-critical", alarm + "vigil/payments/slo-burn-fast",
		alarm + "vigil/agent-bridge/bridge-metrics/MemoryMB-critical", // a body metric's: component/metric
	}
	own := []string{alarm + "vigil/heartbeat", alarm + "vigil/checker-impaired"}
	foreign := []string{
		alarm + "vigil-prod/agent-bridge/consecutive-failures-critical", alarm + "vigil-prod/heartbeat",
		alarm + "vigilant/heartbeat", alarm + "other/vigil/agent-bridge", "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:vigil/agent-bridge/x",
		"arn:aws:cloudwatch:" + emulator.Region + ":210987654321:alarm:vigil/agent-bridge/x",
		dash + "vigil", dash + "vigil-prod", dash + "vigil2",
	}
	for _, tc := range []struct {
		action string
		allow  []string
	}{
		{"cloudwatch:PutMetricAlarm", integration},
		{"cloudwatch:DeleteAlarms", integration},
		{"cloudwatch:DescribeAlarms", append(slices.Clone(integration), own...)},
		{"cloudwatch:PutDashboard", []string{dash + "vigil"}},
		{"cloudwatch:GetDashboard", []string{dash + "vigil"}},
		{"cloudwatch:DeleteDashboards", []string{dash + "vigil"}},
	} {
		patterns := granted[tc.action]
		if len(patterns) == 0 {
			t.Errorf("%s not granted", tc.action)
			continue
		}
		allowed := func(arn string) bool {
			return slices.ContainsFunc(patterns, func(p string) bool { return iamMatch(p, arn) })
		}
		for _, arn := range tc.allow {
			if !allowed(arn) {
				t.Errorf("%s on %v refuses %s", tc.action, patterns, arn)
			}
		}
		for _, arn := range slices.Concat(integration, own, foreign) {
			if !slices.Contains(tc.allow, arn) && allowed(arn) {
				t.Errorf("%s on %v allows %s", tc.action, patterns, arn)
			}
		}
	}
}
