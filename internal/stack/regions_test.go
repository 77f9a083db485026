package stack

import (
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// withParams returns the resolve parameters of a stack: the template's
// defaults, the pseudo parameters, and over them the stack's own.
func withParams(tr *transformed, over map[string]any) map[string]any {
	p := rootParams(tr)
	maps.Copy(p, over)
	return p
}

// healthCheckEnv is the HealthCheck function's environment in d, resolved.
func healthCheckEnv(t *testing.T, d doc, params map[string]any) map[string]any {
	t.Helper()
	p := resolve(d.resource(t, "HealthCheckFunction", "AWS::Lambda::Function")["Properties"], params).(map[string]any)
	return p["Environment"].(map[string]any)["Variables"].(map[string]any)
}

// danglingRefs lists what d's resources and outputs refer to that d does not
// create: a stack CloudFormation would refuse.
func danglingRefs(d doc) []string {
	res := d.resources()
	var out []string
	check := func(where string, v any) {
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, e := range x {
					var ids []string
					switch k {
					case "Ref":
						if s, ok := e.(string); ok && !strings.HasPrefix(s, "AWS::") {
							ids = append(ids, s)
						}
					case "Fn::GetAtt":
						if l, ok := e.([]any); ok {
							ids = append(ids, l[0].(string))
						}
					case "Fn::Sub":
						s, _ := e.(string)
						for _, m := range subVarRE.FindAllStringSubmatch(s, -1) {
							if id, _, _ := strings.Cut(m[1], "."); !strings.HasPrefix(id, "AWS::") {
								ids = append(ids, id)
							}
						}
					}
					params, _ := d["Parameters"].(map[string]any)
					for _, id := range ids {
						_, isRes := res[id]
						_, isParam := params[id]
						if !isRes && !isParam {
							out = append(out, where+" → "+id)
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
		walk(v)
	}
	for id, r := range res {
		m := r.(map[string]any)
		check(id, m["Properties"])
		check(id+" (Metadata)", m["Metadata"])
		switch dep := m["DependsOn"].(type) {
		case string:
			check(id+" (DependsOn)", map[string]any{"Ref": dep})
		case []any:
			for _, x := range dep {
				check(id+" (DependsOn)", map[string]any{"Ref": x})
			}
		}
	}
	outputs, _ := d["Outputs"].(map[string]any)
	for name, o := range outputs {
		check("output "+name, o)
	}
	slices.Sort(out)
	return out
}

// A probe-only stack (HomeRegion another region) is its HealthCheck and
// what runs it, and finds the home's resources by the names the home gives
// them: checked against a multi-region home stack named HomeStackName.
func TestRegionStacks(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	single, home, probe := tr.home(t), tr.Template.specialize(t, multiHome), tr.Template.specialize(t, probeOnly)

	for name, d := range map[string]doc{"single-region": single, "multi-region home": home, "probe-only": probe} {
		if refs := danglingRefs(d); len(refs) != 0 {
			t.Errorf("%s stack refers to what it does not create: %v", name, refs)
		}
	}

	t.Run("resources", func(t *testing.T) {
		// A multi-region home is the single-region stack and its region alarm.
		singleIDs, homeIDs := slices.Sorted(maps.Keys(single.resources())), slices.Sorted(maps.Keys(home.resources()))
		if want := slices.Sorted(slices.Values(append(slices.Clone(singleIDs), "RegionImpairedAlarm", "RegionsMissingAlarm"))); !slices.Equal(homeIDs, want) {
			t.Errorf("multi-region home resources %v, want %v", homeIDs, want)
		}
		want := []string{
			"HealthCheckFailureQueue", "HealthCheckFunction", "HealthCheckFunctionAlarm",
			"HealthCheckFunctionEventInvokeConfig", "HealthCheckFunctionRole", "HealthCheckFunctionTick",
			"HealthCheckFunctionTickRole", "HealthCheckLogGroup",
			// Its errors alarm's topic: alarm actions stay in their region.
			"ProbeAlarmTopic", "ProbeAlarmTopicEmailSubscription",
		}
		if got := slices.Sorted(maps.Keys(probe.resources())); !slices.Equal(got, want) {
			t.Errorf("probe-only resources %v, want %v", got, want)
		}
		if got := slices.Sorted(maps.Keys(probe["Outputs"].(map[string]any))); !slices.Equal(got, []string{"HealthCheckFunctionName"}) {
			t.Errorf("probe-only outputs %v, want HealthCheckFunctionName only", got)
		}
		sub := probe.resource(t, "ProbeAlarmTopicEmailSubscription", "AWS::SNS::Subscription")
		if sub["Condition"] != "HasCriticalEmail" || !reflect.DeepEqual(sub["Properties"].(map[string]any)["Endpoint"], map[string]any{"Ref": "CriticalEmail"}) {
			t.Errorf("probe-only subscription %v, want CriticalEmail's, when set", sub)
		}
		alarm := probe.resource(t, "HealthCheckFunctionAlarm", "AWS::CloudWatch::Alarm")["Properties"].(map[string]any)
		own := []any{map[string]any{"Ref": "ProbeAlarmTopic"}}
		if !reflect.DeepEqual(alarm["AlarmActions"], own) || !reflect.DeepEqual(alarm["OKActions"], own) {
			t.Errorf("probe-only errors alarm notifies %v / %v, want its own region's topic", alarm["AlarmActions"], alarm["OKActions"])
		}
		if md := probe.resource(t, "HealthCheckFunctionTick", "AWS::Scheduler::Schedule")["Metadata"]; md != nil && len(md.(map[string]any)) != 0 {
			t.Errorf("probe-only schedule Metadata %v, want none (no AlertingCleanup)", md)
		}
	})

	t.Run("names", func(t *testing.T) {
		// The single-region stack names nothing new: naming a resource
		// replaces it, and a default deploy must not.
		for id, field := range map[string]string{"VigilTable": "TableName", "WarningTopic": "TopicName", "CriticalTopic": "TopicName", "RecoveryStateMachine": "StateMachineName"} {
			if v, set := single.resources()[id].(map[string]any)["Properties"].(map[string]any)[field]; set {
				t.Errorf("single-region %s.%s = %v, want CloudFormation's generated name", id, field, v)
			}
		}
		// What the probe-only stack is told is what the home, deployed as
		// HomeStackName in HomeRegion, makes.
		homeName, homeRegion := probeOnly["HomeStackName"].(string), probeOnly["HomeRegion"].(string)
		hp := withParams(tr, multiHome)
		hp["AWS::StackName"], hp["AWS::Region"] = homeName, homeRegion
		name := func(id, kind, field string) string {
			t.Helper()
			v, ok := resolve(home.resource(t, id, kind)["Properties"].(map[string]any)[field], hp).(string)
			if !ok {
				t.Fatalf("home %s.%s not a name: %v", id, field, home.resource(t, id, kind)["Properties"].(map[string]any)[field])
			}
			return v
		}
		const acct = "123456789012"
		arn := func(service, rest string) string {
			return "arn:aws:" + service + ":" + homeRegion + ":" + acct + ":" + rest
		}
		want := map[string]any{
			"VIGIL_TABLE":              name("VigilTable", "AWS::DynamoDB::Table", "TableName"),
			"VIGIL_STATE_MACHINE_ARN":  arn("states", "stateMachine:"+name("RecoveryStateMachine", "AWS::StepFunctions::StateMachine", "StateMachineName")),
			"VIGIL_WARNING_TOPIC_ARN":  arn("sns", name("WarningTopic", "AWS::SNS::Topic", "TopicName")),
			"VIGIL_CRITICAL_TOPIC_ARN": arn("sns", name("CriticalTopic", "AWS::SNS::Topic", "TopicName")),
			"VIGIL_HOME_FUNCTION":      arn("lambda", "function:"+name("HealthCheckFunction", "AWS::Lambda::Function", "FunctionName")),
			"VIGIL_HOME_REGION":        homeRegion,
			"VIGIL_REGIONS":            probeOnly["Regions"],
			// No alarms or dashboard: the home's.
			"VIGIL_STACK_NAME":       "",
			"VIGIL_SHARD_COMPONENTS": "",
		}
		env := healthCheckEnv(t, probe, withParams(tr, probeOnly))
		for k, v := range want {
			if env[k] != v {
				t.Errorf("probe-only %s = %v, want %v", k, env[k], v)
			}
		}
		// The home decides here: no home region, no home function.
		env = healthCheckEnv(t, home, withParams(tr, multiHome))
		for k, v := range map[string]any{"VIGIL_HOME_REGION": "", "VIGIL_HOME_FUNCTION": "", "VIGIL_REGIONS": multiHome["Regions"], "VIGIL_STACK_NAME": "vigil"} {
			if env[k] != v {
				t.Errorf("multi-region home %s = %v, want %v", k, env[k], v)
			}
		}
		if !reflect.DeepEqual(env["VIGIL_TABLE"], map[string]any{"Ref": "VigilTable"}) {
			t.Errorf("multi-region home VIGIL_TABLE = %v, want its own table", env["VIGIL_TABLE"])
		}
	})

	t.Run("probe-only role", func(t *testing.T) {
		params := withParams(tr, probeOnly)
		env := healthCheckEnv(t, probe, params)
		grants := map[string][]any{}
		for _, st := range statements(probe.resource(t, "HealthCheckFunctionRole", "AWS::IAM::Role")) {
			for _, a := range st.actions {
				for _, r := range st.resources {
					grants[a] = append(grants[a], resolve(r, params))
				}
			}
		}
		home := "eu-west-1"
		table := "arn:aws:dynamodb:" + home + ":123456789012:table/" + env["VIGIL_TABLE"].(string)
		want := map[string][]string{
			// Its observations, the tick's observations and open ticks
			// (Query), the shard heartbeats: in the home's table.
			// The home decides: no recovery start, no notification here.
			"dynamodb:GetItem":        {table},
			"dynamodb:PutItem":        {table},
			"dynamodb:BatchWriteItem": {table},
			"dynamodb:Query":          {table},
			// Its own shards, and the home it hands ticks to.
			"lambda:InvokeFunction":         {"arn:aws:lambda:us-east-1:123456789012:function:vigil-healthcheck", env["VIGIL_HOME_FUNCTION"].(string)},
			"sqs:SendMessage":               nil, // the failure queue, a GetAtt
			"ssm:GetParameter":              nil, // secrets and the document, in its own region
			"secretsmanager:GetSecretValue": nil,
			// The home's topics' key, through SNS in the home region.
			"kms:GenerateDataKey": nil,
			"kms:Decrypt":         nil,
		}
		for a, got := range grants {
			w, known := want[a]
			if !known {
				t.Errorf("probe-only role allows %s on %v (no alarms, dashboard or anything else)", a, got)
				continue
			}
			if w == nil {
				continue
			}
			var names []string
			for _, g := range got {
				s, ok := g.(string)
				if !ok {
					t.Errorf("%s on %v: not resolved", a, g)
				}
				names = append(names, s)
			}
			if !slices.Equal(slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(w))) {
				t.Errorf("probe-only role: %s on %v, want %v", a, got, w)
			}
		}
		for _, a := range []string{"dynamodb:Query", "dynamodb:PutItem", "lambda:InvokeFunction"} {
			if len(grants[a]) == 0 {
				t.Errorf("probe-only role lacks %s", a)
			}
		}
		for _, a := range []string{"states:StartExecution", "sns:Publish", "dynamodb:BatchGetItem"} {
			if len(grants[a]) != 0 {
				t.Errorf("probe-only role allows %s: the home decides, starts and notifies", a)
			}
		}
		for _, st := range statements(probe.resource(t, "HealthCheckFunctionRole", "AWS::IAM::Role")) {
			if !slices.Contains(st.actions, "kms:GenerateDataKey") {
				continue
			}
			// The home's key: the one TopicKmsKeyArn names, or the one the
			// home created ("create"), whose id only the home knows.
			key := map[string]any{"Fn::If": []any{"CreateTopicKey", "arn:aws:kms:" + home + ":123456789012:key/*", ""}} // TopicKmsKeyArn resolved to its default
			if !reflect.DeepEqual(resolve(st.resources, params), []any{key}) {
				t.Errorf("probe-only key use on %v, want %v", resolve(st.resources, params), key)
			}
			via := resolve(st.condition, params)
			if st.cond != "EncryptTopic" || !reflect.DeepEqual(via, map[string]any{"StringEquals": map[string]any{"kms:ViaService": "sns." + home + ".amazonaws.com"}}) {
				t.Errorf("probe-only key use if %q %v, want only with EncryptTopic, through SNS in %s", st.cond, via, home)
			}
		}
	})

	t.Run("multi-region home role", func(t *testing.T) {
		// The home queries its table for observations and open ticks; a
		// single-region stack queries nothing.
		queries := func(d doc) bool {
			for _, st := range statements(d.resource(t, "HealthCheckFunctionRole", "AWS::IAM::Role")) {
				if slices.Contains(st.actions, "dynamodb:Query") {
					if !reflect.DeepEqual(st.resources, []any{tableArn}) {
						t.Errorf("Query on %v, want its table", st.resources)
					}
					return true
				}
			}
			return false
		}
		if !queries(home) || queries(single) {
			t.Errorf("Query granted: multi-region home %v, single region %v; want true, false", queries(home), queries(single))
		}
	})

	t.Run("alarms", func(t *testing.T) {
		params := withParams(tr, multiHome)
		for _, w := range []struct {
			id                        string
			stat                      string
			period, evals, datapoints float64
		}{
			// A shard lost in two of three minutes, after its retry.
			{"ShardsFailedAlarm", "Sum", 60, 3, 2},
			// The count of impaired regions, three minutes of five.
			{"RegionImpairedAlarm", "Maximum", 60, 5, 3},
			{"RegionsMissingAlarm", "Maximum", 60, 5, 5},
		} {
			p := resolve(home.resource(t, w.id, "AWS::CloudWatch::Alarm")["Properties"], params).(map[string]any)
			if p["Statistic"] != w.stat || num(p["Period"]) != w.period || num(p["EvaluationPeriods"]) != w.evals || num(p["DatapointsToAlarm"]) != w.datapoints {
				t.Errorf("%s: %v over %v s, %v of %v; want %s over %v s, %v of %v", w.id, p["Statistic"], p["Period"], p["DatapointsToAlarm"], p["EvaluationPeriods"], w.stat, w.period, w.datapoints, w.evals)
			}
			if p["Dimensions"] != nil || p["Namespace"] != "Vigil" || p["TreatMissingData"] != "notBreaching" ||
				!reflect.DeepEqual(p["AlarmActions"], []any{warningRef}) || !strings.HasPrefix(p["AlarmDescription"].(string), "warning: ") {
				t.Errorf("%s: %v", w.id, p)
			}
		}
		if _, ok := single.resources()["RegionImpairedAlarm"]; ok {
			t.Errorf("a single-region stack has RegionImpairedAlarm: one region cannot be outvoted")
		}
	})

	t.Run("parameters", func(t *testing.T) {
		params := tr.Template["Parameters"].(map[string]any)
		mem := params["FunctionMemory"].(map[string]any)
		if num(mem["Default"]) != 256.0 || !slices.ContainsFunc(mem["AllowedValues"].([]any), func(v any) bool { return num(v) == 1769.0 }) {
			t.Errorf("FunctionMemory %v, want default 256 and 1,769 (one vCPU) allowed", mem)
		}
		fn := single.resource(t, "HealthCheckFunction", "AWS::Lambda::Function")["Properties"].(map[string]any)
		if !reflect.DeepEqual(fn["MemorySize"], map[string]any{"Ref": "FunctionMemory"}) {
			t.Errorf("HealthCheck MemorySize %v, want FunctionMemory", fn["MemorySize"])
		}
		for _, p := range []string{"ShardComponents", "HomeRegion", "Regions", "HomeStackName"} {
			if def := params[p].(map[string]any)["Default"]; def != "" {
				t.Errorf("%s default %v, want empty: a default deploy is one region", p, def)
			}
		}
		// What the function would refuse at its cold start, CloudFormation
		// refuses before the stack is touched (lambdaenv: 1 to 10,000).
		re := regexp.MustCompile(params["ShardComponents"].(map[string]any)["AllowedPattern"].(string))
		for v, ok := range map[string]bool{"": true, "1": true, "256": true, "10000": true, "0": false, "10001": false, "01": false, "-1": false, "1e3": false} {
			if re.MatchString(v) != ok {
				t.Errorf("ShardComponents %q accepted = %v, want %v", v, !ok, ok)
			}
		}
		re = regexp.MustCompile(params["Regions"].(map[string]any)["AllowedPattern"].(string))
		for v, ok := range map[string]bool{"": true, "us-east-1": true, "us-east-1,eu-west-1,ap-southeast-2": true, "us-gov-west-1,us-east-1": true,
			"us-east-1, eu-west-1": false, "us-east-1,": false, ",us-east-1": false, "US-EAST-1": false} {
			if re.MatchString(v) != ok {
				t.Errorf("Regions %q accepted = %v, want %v", v, !ok, ok)
			}
		}
		// A home region without the list of regions is refused.
		rules, _ := tr.Template["Rules"].(map[string]any)
		if _, ok := rules["RegionsListedWithHome"]; !ok {
			t.Errorf("Rules %v, want RegionsListedWithHome", rules)
		}
	})
}
