package stack

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// What moto silently skips (alarms, the schedule) and what it does not
// check (IAM), asserted on the transformed template.

var (
	topicRef = map[string]any{"Ref": "VigilTopic"}
	tableArn = map[string]any{"Fn::GetAtt": []any{"VigilTable", "Arn"}}
	queueArn = map[string]any{"Fn::GetAtt": []any{"HealthCheckFailureQueue", "Arn"}}
	smRef    = map[string]any{"Ref": "RecoveryStateMachine"}
)

// wantAlarm is one alarm as SPEC section 5 and the cost budget want it.
type wantAlarm struct {
	id        string
	nested    bool   // in integration-alarms.yaml
	condition string // "" when always created
	name      string
	namespace string
	metric    string
	dims      map[string]any
	stat      string
	period    float64
	threshold float64
	operator  string
	missing   string
	expr      string // metric math: the returned expression
}

func TestAlarms(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	integ := map[string]any{"Integration": "agent-bridge"}
	comp := map[string]any{"Integration": "agent-bridge", "Component": "bridge-metrics"}
	const (
		ge, gt, lt = "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold"
		prefix     = "vigil/agent-bridge/"
	)
	want := []wantAlarm{
		{"ConsecutiveFailuresWarningAlarm", true, "Warnings", prefix + "consecutive-failures-warning", "Vigil", "ConsecutiveFailures", integ, "Maximum", 60, 2, ge, "ignore", ""},
		{"ConsecutiveFailuresCriticalAlarm", true, "", prefix + "consecutive-failures-critical", "Vigil", "ConsecutiveFailures", integ, "Maximum", 60, 3, ge, "ignore", ""},
		{"CheckDurationWarningAlarm", true, "Warnings", prefix + "check-duration-warning", "Vigil", "CheckDuration", integ, "Maximum", 60, 1000, gt, "ignore", ""},
		{"CheckDurationCriticalAlarm", true, "", prefix + "check-duration-critical", "Vigil", "CheckDuration", integ, "Maximum", 60, 5000, gt, "ignore", ""},
		{"MemoryWarningAlarm", true, "BodyMetricWarnings", prefix + "memory-warning", "Vigil", "MemoryMB", comp, "Maximum", 60, 500, gt, "ignore", ""},
		{"MemoryCriticalAlarm", true, "BodyMetrics", prefix + "memory-critical", "Vigil", "MemoryMB", comp, "Maximum", 60, 800, gt, "ignore", ""},
		// Availability is State's percentile rank PR(1:2): the share of
		// checks in state 2, ACTIVE (lower bound exclusive, upper inclusive).
		{"AvailabilitySLOAlarm", true, "", prefix + "availability-slo", "Vigil", "State", integ, "PR(1:2)", 86400, 99.9, lt, "ignore", "availability"},
		{"ErrorRateWarningAlarm", true, "Warnings", prefix + "error-rate-warning", "Vigil", "State", integ, "PR(1:2)", 21600, 0.1, gt, "ignore", "100 - active"},
		{"ErrorRateCriticalAlarm", true, "", prefix + "error-rate-critical", "Vigil", "State", integ, "PR(1:2)", 21600, 1, gt, "ignore", "100 - active"},
		{"RecoveryFailedAlarm", true, "", prefix + "recovery-failed", "Vigil", "RecoveryFailed", integ, "Sum", 60, 1, ge, "notBreaching", ""},
		{"HeartbeatAlarm", false, "", "vigil/heartbeat", "AWS/Lambda", "Invocations", map[string]any{"FunctionName": map[string]any{"Ref": "HealthCheckFunction"}}, "Sum", 60, 1, lt, "breaching", ""},
		{"CheckerImpairedAlarm", false, "", "vigil/checker-impaired", "Vigil", "CheckerImpaired", nil, "Maximum", 60, 1, ge, "notBreaching", ""},
		{"StaleTicksAlarm", false, "", "vigil/stale-ticks", "Vigil", "StaleTicks", nil, "Sum", 300, 1, ge, "notBreaching", ""},
		{"FailedChecksAlarm", false, "", "vigil/failed-checks", "AWS/SQS", "ApproximateNumberOfMessagesVisible", map[string]any{"QueueName": map[string]any{"Fn::GetAtt": []any{"HealthCheckFailureQueue", "QueueName"}}}, "Maximum", 300, 1, ge, "notBreaching", ""},
		{"HealthCheckFunctionAlarm", false, "CreateFunctionAlarms", "vigil/healthcheck-errors", "AWS/Lambda", "Errors", map[string]any{"FunctionName": map[string]any{"Ref": "HealthCheckFunction"}}, "Sum", 60, 1, ge, "notBreaching", ""},
		{"RecoveryFunctionAlarm", false, "CreateFunctionAlarms", "vigil/recovery-errors", "AWS/Lambda", "Errors", map[string]any{"FunctionName": map[string]any{"Ref": "RecoveryFunction"}}, "Sum", 60, 1, ge, "notBreaching", ""},
		{"StatusFunctionAlarm", false, "CreateFunctionAlarms", "vigil/status-errors", "AWS/Lambda", "Errors", map[string]any{"FunctionName": map[string]any{"Ref": "StatusFunction"}}, "Sum", 60, 1, ge, "notBreaching", ""},
	}
	alarms := resolvedAlarms(t, tr)
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
			check("AlarmActions", []any{topicRef})
			check("OKActions", []any{topicRef})
			ns, metric, dims, stat, period := p["Namespace"], p["MetricName"], p["Dimensions"], p["Statistic"], p["Period"]
			if w.expr != "" {
				ns, metric, dims, stat, period = nil, nil, nil, nil, nil
				var returned []string
				for _, m := range p["Metrics"].([]any) {
					m := m.(map[string]any)
					if m["ReturnData"] == true {
						// An expression by its text, a metric by its id.
						r, ok := m["Expression"].(string)
						if !ok {
							r = m["Id"].(string)
						}
						returned = append(returned, r)
					}
					ms, ok := m["MetricStat"].(map[string]any)
					if !ok || metric != nil {
						continue
					}
					mm := ms["Metric"].(map[string]any)
					ns, metric, dims, stat, period = mm["Namespace"], mm["MetricName"], mm["Dimensions"], ms["Stat"], ms["Period"]
				}
				if !slices.Equal(returned, []string{w.expr}) {
					t.Errorf("returned expressions %q, want [%q]", returned, w.expr)
				}
			}
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
	schedules := tr.Template.ofType("AWS::Scheduler::Schedule")
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
		// The scheduler's role may invoke the function and write the queue, nothing else.
		role := tr.Template.resource(t, "HealthCheckFunctionTickRole", "AWS::IAM::Role")
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
	p := tr.Template.resource(t, "HealthCheckFunctionEventInvokeConfig", "AWS::Lambda::EventInvokeConfig")["Properties"].(map[string]any)
	if num(p["MaximumRetryAttempts"]) != 0.0 || num(p["MaximumEventAgeInSeconds"]) != 60.0 {
		t.Errorf("retries %v, max age %v: want 0 and 60", p["MaximumRetryAttempts"], p["MaximumEventAgeInSeconds"])
	}
	dest := p["DestinationConfig"].(map[string]any)["OnFailure"].(map[string]any)["Destination"]
	if !reflect.DeepEqual(dest, queueArn) {
		t.Errorf("OnFailure destination %v", dest)
	}
	q := tr.Template.resource(t, "HealthCheckFailureQueue", "AWS::SQS::Queue")["Properties"].(map[string]any)
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
		r := tr.Template.resource(t, tc.id, "AWS::Lambda::Function")
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
		lg := resolve(tr.Template.resource(t, tc.logGroupResource, "AWS::Logs::LogGroup")["Properties"], params).(map[string]any)
		if lg["LogGroupName"] != "/aws/lambda/"+tc.name || num(lg["RetentionInDays"]) != 14.0 {
			t.Errorf("%s: log group %v", tc.id, lg)
		}
		_, hasSM := p["Environment"].(map[string]any)["Variables"].(map[string]any)["VIGIL_STATE_MACHINE_ARN"]
		if hasSM != tc.envStateMachine {
			t.Errorf("%s: VIGIL_STATE_MACHINE_ARN present %v", tc.id, hasSM)
		}
	}
	url := tr.Template.resource(t, "StatusFunctionUrl", "AWS::Lambda::Url")["Properties"].(map[string]any)
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
	for _, tc := range []struct {
		role                      string
		table                     []string
		startsRecovery, publishes bool
	}{
		// No cloudwatch:PutMetricData: metrics leave as EMF log lines.
		{"HealthCheckFunctionRole", []string{"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:PutItem"}, true, true},
		{"RecoveryFunctionRole", tableActions, false, true},
		{"StatusFunctionRole", []string{"dynamodb:GetItem", "dynamodb:Query"}, false, false},
	} {
		t.Run(tc.role, func(t *testing.T) {
			role := tr.Template.resource(t, tc.role, "AWS::IAM::Role")
			var table []string
			var started, described, published bool
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
						if !reflect.DeepEqual(st.resources, []any{topicRef}) {
							t.Errorf("%s on %v, want the topic only", a, st.resources)
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
						wantKey := map[string]any{"Fn::If": []any{"CreateTopicKey",
							map[string]any{"Fn::GetAtt": []any{"VigilTopicKey", "Arn"}}, map[string]any{"Ref": "TopicKmsKeyArn"}}}
						via := map[string]any{"StringEquals": map[string]any{"kms:ViaService": map[string]any{"Fn::Sub": "sns.${AWS::Region}.amazonaws.com"}}}
						if !reflect.DeepEqual(st.resources, []any{wantKey}) || !reflect.DeepEqual(st.condition, via) {
							t.Errorf("%s on %v if %v, want the topic key through SNS only", a, st.resources, st.condition)
						}
					case a == "cloudwatch:DescribeAlarms" || a == "cloudwatch:DisableAlarmActions" || a == "cloudwatch:EnableAlarmActions":
						// Maintenance windows hold the stack's own alarms only.
						want := map[string]any{"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AWS::StackName}/*"}
						if tc.role != "HealthCheckFunctionRole" || !reflect.DeepEqual(st.resources, []any{want}) {
							t.Errorf("%s on %v for %s, want the HealthCheck role on the stack's alarms only", a, st.resources, tc.role)
						}
					case a == "sqs:SendMessage" && tc.role == "HealthCheckFunctionRole":
						if !reflect.DeepEqual(st.resources, []any{queueArn}) {
							t.Errorf("%s on %v", a, st.resources)
						}
					case a == "lambda:InvokeFunction" && tc.role == "RecoveryFunctionRole":
						if st.cond != "HasRecoveryTargets" {
							t.Errorf("lambda:InvokeFunction not guarded by HasRecoveryTargets")
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
	p := tr.Template.resource(t, "RecoveryStateMachine", "AWS::StepFunctions::StateMachine")["Properties"].(map[string]any)
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
	role := tr.Template.resource(t, "RecoveryStateMachineRole", "AWS::IAM::Role")
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

// resolvedAlarms returns every alarm of both templates by logical id, with
// parameters replaced by their defaults: the nested stack's by the values
// template.yaml passes it.
func resolvedAlarms(t *testing.T, tr *transformed) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for id, r := range tr.Template.ofType("AWS::CloudWatch::Alarm") {
		out[id] = resolve(r, rootParams(tr)).(map[string]any)
	}
	nested := nestedParams(t, tr)
	for id, r := range tr.Alarms.ofType("AWS::CloudWatch::Alarm") {
		if _, dup := out[id]; dup {
			t.Fatalf("alarm id %s in both templates", id)
		}
		out[id] = resolve(r, nested).(map[string]any)
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
	outputs, _ := tr.Template["Outputs"].(map[string]any)
	want := map[string]any{
		"TableName":               map[string]any{"Ref": "VigilTable"},
		"TopicArn":                topicRef,
		"StateMachineArn":         smRef,
		"StatusFunctionUrl":       map[string]any{"Fn::GetAtt": []any{"StatusFunctionUrl", "FunctionUrl"}},
		"HealthCheckFunctionName": map[string]any{"Ref": "HealthCheckFunction"},
		"DashboardUrl":            map[string]any{"Fn::Sub": "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}#dashboards:name=${VigilDashboard}"},
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
	for id, r := range tr.Template["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] != "AWS::Lambda::Function" {
			continue
		}
		functions++
		props := res["Properties"].(map[string]any)
		env := props["Environment"].(map[string]any)["Variables"].(map[string]any)
		roleID := props["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
		sts := statements(tr.Template.resource(t, roleID, "AWS::IAM::Role"))
		can := func(action string, resource any, cond string) bool {
			for _, st := range sts {
				if slices.Contains(st.actions, action) && slices.ContainsFunc(st.resources, func(r any) bool { return reflect.DeepEqual(r, resource) }) &&
					(cond == "" || st.cond == cond) {
					return true
				}
			}
			return false
		}
		t.Run(id, func(t *testing.T) {
			for name, want := range map[string]struct {
				actions  []string
				resource any
				cond     string
			}{
				"VIGIL_CONFIG_PARAMETER":  {[]string{"ssm:GetParameter"}, map[string]any{"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ConfigParameterName}"}, "HasConfigParameter"},
				"VIGIL_TOPIC_ARN":         {[]string{"sns:Publish"}, topicRef, ""},
				"VIGIL_STATE_MACHINE_ARN": {[]string{"states:StartExecution"}, smRef, ""},
				"VIGIL_TABLE":             {[]string{"dynamodb:GetItem"}, tableArn, ""},
			} {
				if _, told := env[name]; !told {
					continue
				}
				for _, a := range want.actions {
					if !can(a, want.resource, want.cond) {
						t.Errorf("environment names %s, but the role may not %s it", name, a)
					}
				}
			}
			// The topic is encrypted: whoever publishes needs its key.
			if _, told := env["VIGIL_TOPIC_ARN"]; told {
				key := map[string]any{"Fn::If": []any{"CreateTopicKey", map[string]any{"Fn::GetAtt": []any{"VigilTopicKey", "Arn"}}, map[string]any{"Ref": "TopicKmsKeyArn"}}}
				if !can("kms:GenerateDataKey", key, "") {
					t.Errorf("environment names the topic, but the role may not use its key")
				}
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
	param := tr.Template["Parameters"].(map[string]any)["TopicKmsKeyArn"].(map[string]any)
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
