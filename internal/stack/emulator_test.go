package stack

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/emulator"
)

// TestStackOnEmulator creates the transformed stack on a fresh moto and
// checks what moto built.
func TestStackOnEmulator(t *testing.T) {
	t.Parallel()
	m := moto.Get(t)
	tr := transform(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// `sam package` uploads the code; moto's CloudFormation reads it from
	// its own S3.
	s3Put(ctx, t, m.Endpoint+"/"+testBucket, nil)
	s3Put(ctx, t, m.Endpoint+"/"+testBucket+"/"+codeKey, dummyZip(t))

	c := awsenv.New(m.AWSConfig())
	cfn := cloudformation.NewFromConfig(c.Config)
	body, err := jsonOf(motoCompatible(tr.Template))
	if err != nil {
		t.Fatal(err)
	}
	const stackName = "vigil"
	if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(stackName),
		TemplateBody: aws.String(string(body)),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand},
		// The default leaves the topic unencrypted; the key the stack can
		// create is the part worth deploying here.
		Parameters: []cfntypes.Parameter{{ParameterKey: aws.String("TopicKmsKeyArn"), ParameterValue: aws.String("create")}},
	}); err != nil {
		t.Fatalf("CreateStack: %v", err)
	}
	answerAlertingCleanup(ctx, t, m.Endpoint, cfn, stackName)
	st := waitStack(ctx, t, cfn, stackName)
	outputs := map[string]string{}
	for _, o := range st.Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	res, err := cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(stackName)})
	if err != nil {
		t.Fatal(err)
	}
	physical, types := map[string]string{}, map[string]string{}
	for _, r := range res.StackResources {
		physical[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
		types[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.ResourceType)
	}
	t.Logf("outputs %v", outputs)

	t.Run("table", func(t *testing.T) {
		name := outputs["TableName"]
		if name == "" || name != physical["VigilTable"] {
			t.Fatalf("TableName output %q, resource %q", name, physical["VigilTable"])
		}
		d, err := c.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, k := range d.Table.KeySchema {
			keys = append(keys, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
		}
		if !slices.Equal(keys, []string{"pk:HASH", "sk:RANGE"}) {
			t.Errorf("key schema %v", keys)
		}
		for _, a := range d.Table.AttributeDefinitions {
			if a.AttributeType != ddbtypes.ScalarAttributeTypeS {
				t.Errorf("attribute %s type %s", aws.ToString(a.AttributeName), a.AttributeType)
			}
		}
		if d.Table.BillingModeSummary == nil || d.Table.BillingModeSummary.BillingMode != ddbtypes.BillingModePayPerRequest {
			t.Errorf("billing %+v", d.Table.BillingModeSummary)
		}
		// moto 5.2's CloudFormation drops TimeToLiveSpecification and
		// PointInTimeRecoverySpecification and reads SSESpecification under
		// the API's key (Enabled, not SSEEnabled). Where the emulator
		// reports a setting off, the transformed template must have it.
		tableProps := tr.Template.resource(t, "VigilTable", "AWS::DynamoDB::Table")["Properties"].(map[string]any)
		templateHas := func(what, field, key string, want any) {
			t.Helper()
			got := tableProps[field].(map[string]any)[key]
			if got != want {
				t.Errorf("%s: template %s.%s = %v, want %v", what, field, key, got, want)
			} else {
				t.Logf("%s: moto does not apply it from CloudFormation; checked on the template", what)
			}
		}
		if d.Table.SSEDescription == nil || d.Table.SSEDescription.Status != ddbtypes.SSEStatusEnabled {
			templateHas("encryption", "SSESpecification", "SSEEnabled", true)
		}
		ttl, err := c.DynamoDB.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &name})
		if err != nil {
			t.Fatal(err)
		}
		switch ttl.TimeToLiveDescription.TimeToLiveStatus {
		case ddbtypes.TimeToLiveStatusEnabled, ddbtypes.TimeToLiveStatusEnabling:
			if a := aws.ToString(ttl.TimeToLiveDescription.AttributeName); a != "expires_at" {
				t.Errorf("TTL attribute %q", a)
			}
		default:
			templateHas("TTL", "TimeToLiveSpecification", "Enabled", true)
			templateHas("TTL attribute", "TimeToLiveSpecification", "AttributeName", "expires_at")
		}
		cb, err := c.DynamoDB.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: &name})
		if err != nil {
			t.Fatal(err)
		}
		if cb.ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != ddbtypes.PointInTimeRecoveryStatusEnabled {
			templateHas("point-in-time recovery", "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled", true)
		}
	})

	t.Run("topics", func(t *testing.T) {
		warning, critical := outputs["WarningTopicArn"], outputs["CriticalTopicArn"]
		if warning == "" || critical == "" || warning == critical {
			t.Fatalf("topic outputs: warning %q, critical %q; want two topics", warning, critical)
		}
		keys := map[string]bool{}
		for _, tc := range []struct{ id, arn string }{{"WarningTopic", warning}, {"CriticalTopic", critical}} {
			if physical[tc.id] != tc.arn {
				t.Errorf("%s is %q, output %q", tc.id, physical[tc.id], tc.arn)
			}
			a, err := c.SNS.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(tc.arn)})
			if err != nil {
				t.Fatalf("topic %q: %v", tc.arn, err)
			}
			key := a.Attributes["KmsMasterKeyId"]
			if key == "" || key == "alias/aws/sns" {
				t.Errorf("%s key %q, want the customer managed key the stack created (TopicKmsKeyArn=create)", tc.id, key)
			}
			keys[key] = true
		}
		if len(keys) != 1 {
			t.Errorf("topic keys %v, want the one key the stack created for both", keys)
		}
		// No email parameter given: no subscription on either topic.
		for _, arn := range []string{warning, critical} {
			subs, err := c.SNS.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(arn)})
			if err != nil {
				t.Fatal(err)
			}
			if len(subs.Subscriptions) != 0 {
				t.Errorf("%s has subscriptions %v without an email parameter", arn, subs.Subscriptions)
			}
		}
	})

	t.Run("functions", func(t *testing.T) {
		common := map[string]string{
			"VIGIL_TABLE": outputs["TableName"], "VIGIL_NAMESPACE": "Vigil",
			"VIGIL_CONFIG_FILE": "vigil.json", "VIGIL_CONFIG_PARAMETER": "", "LOG_LEVEL": "info",
			// Empty in AWS: declared so sam local invoke can set it.
			"AWS_ENDPOINT_URL": "",
		}
		// Only the functions that publish are told the topics, both.
		topics := map[string]string{"VIGIL_WARNING_TOPIC_ARN": outputs["WarningTopicArn"], "VIGIL_CRITICAL_TOPIC_ARN": outputs["CriticalTopicArn"]}
		healthCheck := map[string]string{
			"VIGIL_STATE_MACHINE_ARN": outputs["StateMachineArn"], "VIGIL_STACK_NAME": "vigil",
			// One region, the home; shards sized from the memory.
			"VIGIL_SHARD_COMPONENTS": "", "VIGIL_HOME_REGION": "", "VIGIL_REGIONS": "", "VIGIL_HOME_FUNCTION": "",
		}
		maps.Copy(healthCheck, topics)
		for _, fn := range []struct {
			id, name string
			extra    map[string]string
		}{
			{"HealthCheckFunction", "vigil-healthcheck", healthCheck},
			{"RecoveryFunction", "vigil-recovery", topics},
			{"StatusFunction", "vigil-status", nil},
		} {
			if physical[fn.id] != fn.name {
				t.Errorf("%s is %q, want %q", fn.id, physical[fn.id], fn.name)
			}
			f, err := lambda.NewFromConfig(c.Config).GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn.name)})
			if err != nil {
				t.Fatalf("%s: %v", fn.name, err)
			}
			if f.Runtime != lambdatypes.RuntimeProvidedal2023 || aws.ToString(f.Handler) != "bootstrap" {
				t.Errorf("%s: runtime %s handler %s", fn.name, f.Runtime, aws.ToString(f.Handler))
			}
			if !slices.Equal(f.Architectures, []lambdatypes.Architecture{lambdatypes.ArchitectureArm64}) {
				// moto 5.2's CloudFormation creates every function as x86_64.
				arch := tr.Template.resource(t, fn.id, "AWS::Lambda::Function")["Properties"].(map[string]any)["Architectures"]
				if !reflect.DeepEqual(arch, []any{"arm64"}) {
					t.Errorf("%s: architectures %v on moto, %v in the template; want arm64", fn.name, f.Architectures, arch)
				}
			}
			want := map[string]string{}
			for k, v := range common {
				want[k] = v
			}
			for k, v := range fn.extra {
				want[k] = v
			}
			got := f.Environment.Variables
			for k, v := range want {
				if gv, ok := got[k]; !ok || gv != v {
					t.Errorf("%s: %s = %q (set %v), want %q", fn.name, k, gv, ok, v)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%s: environment %v, want %v", fn.name, got, want)
			}
		}
		if outputs["HealthCheckFunctionName"] != "vigil-healthcheck" {
			t.Errorf("HealthCheckFunctionName output %q", outputs["HealthCheckFunctionName"])
		}
	})

	t.Run("state machine", func(t *testing.T) {
		arn := outputs["StateMachineArn"]
		d, err := c.SFN.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: &arn})
		if err != nil {
			t.Fatalf("state machine %q: %v", arn, err)
		}
		if d.Type != "STANDARD" {
			t.Errorf("type %s", d.Type)
		}
		fn, err := lambda.NewFromConfig(c.Config).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("vigil-recovery")})
		if err != nil {
			t.Fatal(err)
		}
		recoveryArn := aws.ToString(fn.Configuration.FunctionArn)
		// moto stores the definition without applying DefinitionSubstitutions
		// (CloudFormation does); apply them the same way before checking.
		def := strings.ReplaceAll(aws.ToString(d.Definition), "${RecoveryFunctionArn}", recoveryArn)
		if strings.Contains(def, "${") {
			t.Errorf("definition has a substitution the template does not provide:\n%s", def)
		}
		var asl struct {
			States map[string]struct {
				Type       string         `json:"Type"`
				Resource   string         `json:"Resource"`
				Parameters map[string]any `json:"Parameters"`
			} `json:"States"`
		}
		if err := json.Unmarshal([]byte(def), &asl); err != nil {
			t.Fatalf("definition: %v", err)
		}
		invokes := 0
		for name, st := range asl.States {
			if st.Type != "Task" {
				continue
			}
			if st.Parameters["FunctionName"] != recoveryArn && st.Resource != recoveryArn {
				t.Errorf("task %s calls %v %v, want the Recovery function", name, st.Resource, st.Parameters["FunctionName"])
			}
			invokes++
		}
		if invokes == 0 {
			t.Errorf("no task invokes %s", recoveryArn)
		}
	})

	// A probe-only stack beside it: what CloudFormation makes of the
	// conditions, on the same account (its home is another region).
	t.Run("probe-only stack", func(t *testing.T) {
		const probeName = "vigil-probe"
		var params []cfntypes.Parameter
		for k, v := range probeOnly {
			params = append(params, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v.(string))})
		}
		if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
			StackName:    aws.String(probeName),
			TemplateBody: aws.String(string(body)),
			Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand},
			Parameters:   params,
		}); err != nil {
			t.Fatalf("CreateStack: %v", err)
		}
		// No AlertingCleanup to answer: the stack completes by itself.
		st := waitStack(ctx, t, cfn, probeName)
		res, err := cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(probeName)})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range res.StackResources {
			// moto 5.2 lists what it did not create (a false condition, a
			// type it skips) as resources without a logical id.
			if id := aws.ToString(r.LogicalResourceId); id != "" {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		// moto skips the alarm and the schedule (AWS::Scheduler::Schedule
		// and AWS::CloudWatch::Alarm are not in its CloudFormation); the
		// template test checks them (TestRegionStacks).
		for _, id := range ids {
			if !slices.Contains([]string{"HealthCheckFailureQueue", "HealthCheckFunction", "HealthCheckFunctionAlarm",
				"HealthCheckFunctionEventInvokeConfig", "HealthCheckFunctionRole", "HealthCheckFunctionTick",
				"HealthCheckFunctionTickRole", "HealthCheckLogGroup", "ProbeAlarmTopic"}, id) {
				t.Errorf("probe-only stack made %s (resources %v)", id, ids)
			}
		}
		if !slices.Contains(ids, "HealthCheckFunction") {
			t.Fatalf("probe-only stack has no HealthCheck function: %v", ids)
		}
		for _, o := range st.Outputs {
			if k := aws.ToString(o.OutputKey); k != "HealthCheckFunctionName" {
				t.Errorf("probe-only output %s", k)
			}
		}
		f, err := lambda.NewFromConfig(c.Config).GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(probeName + "-healthcheck")})
		if err != nil {
			t.Fatal(err)
		}
		home, hs := probeOnly["HomeRegion"].(string), probeOnly["HomeStackName"].(string)
		want := map[string]string{
			"VIGIL_TABLE":              hs + "-state",
			"VIGIL_STATE_MACHINE_ARN":  "arn:aws:states:" + home + ":123456789012:stateMachine:" + hs + "-recovery",
			"VIGIL_WARNING_TOPIC_ARN":  "arn:aws:sns:" + home + ":123456789012:" + hs + "-warning",
			"VIGIL_CRITICAL_TOPIC_ARN": "arn:aws:sns:" + home + ":123456789012:" + hs + "-critical",
			"VIGIL_HOME_FUNCTION":      "arn:aws:lambda:" + home + ":123456789012:function:" + hs + "-healthcheck",
			"VIGIL_HOME_REGION":        home,
			"VIGIL_REGIONS":            probeOnly["Regions"].(string),
			"VIGIL_STACK_NAME":         "",
		}
		for k, v := range want {
			if got, ok := f.Environment.Variables[k]; !ok || got != v {
				t.Errorf("probe-only %s = %q (set %v), want %q", k, got, ok, v)
			}
		}
	})

	// A multi-region home names its table, topics and state machine after
	// itself: the names a probe-only stack is told (above, in its home
	// region).
	t.Run("multi-region home stack", func(t *testing.T) {
		name := probeOnly["HomeStackName"].(string)
		var params []cfntypes.Parameter
		for k, v := range multiHome {
			params = append(params, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v.(string))})
		}
		if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
			StackName:    aws.String(name),
			TemplateBody: aws.String(string(body)),
			Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand},
			Parameters:   params,
		}); err != nil {
			t.Fatalf("CreateStack: %v", err)
		}
		answerAlertingCleanup(ctx, t, m.Endpoint, cfn, name)
		st := waitStack(ctx, t, cfn, name)
		got := map[string]string{}
		for _, o := range st.Outputs {
			got[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
		acct := ":123456789012:"
		for k, v := range map[string]string{
			"TableName":               name + "-state",
			"WarningTopicArn":         "arn:aws:sns:" + emulator.Region + acct + name + "-warning",
			"CriticalTopicArn":        "arn:aws:sns:" + emulator.Region + acct + name + "-critical",
			"StateMachineArn":         "arn:aws:states:" + emulator.Region + acct + "stateMachine:" + name + "-recovery",
			"HealthCheckFunctionName": name + "-healthcheck",
		} {
			if got[k] != v {
				t.Errorf("multi-region home %s = %q, want %q", k, got[k], v)
			}
		}
	})

	t.Run("alerting", func(t *testing.T) {
		// The custom resource exists and its Create was answered (see
		// answerAlertingCleanup); the integrations' alarms and the
		// dashboard are not the template's: no nested stack, no dashboard
		// until a check creates it.
		if types["AlertingCleanup"] != "Custom::VigilAlerting" {
			t.Errorf("AlertingCleanup is %q on moto, resources %v", types["AlertingCleanup"], types)
		}
		for id, kind := range types {
			if kind == "AWS::CloudFormation::Stack" || kind == "AWS::CloudWatch::Dashboard" {
				t.Errorf("%s: %s created by the template", id, kind)
			}
		}
		if _, err := c.CloudWatch.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: aws.String(stackName)}); err == nil {
			t.Errorf("dashboard %s exists before any check", stackName)
		}
		if !strings.HasSuffix(outputs["DashboardUrl"], "#dashboards:name="+stackName) {
			t.Errorf("DashboardUrl %q, want the dashboard named after the stack", outputs["DashboardUrl"])
		}
	})
}

// answerAlertingCleanup plays the HealthCheck function's part in the
// AlertingCleanup custom resource. moto's CloudFormation invokes the
// function named by ServiceToken (it fails the stack if there is none) and
// keeps the stack CREATE_IN_PROGRESS until an answer reaches its response
// URL; it cannot run the Go function, so the test sends the SUCCESS the
// handler sends for Create, to the path moto's response URL names. (moto
// sends no Delete event on DeleteStack: the deletion order is asserted on
// the template, TestAlertingCleanup.)
func answerAlertingCleanup(ctx context.Context, t *testing.T, endpoint string, cfn *cloudformation.Client, name string) {
	t.Helper()
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &name})
	if err != nil {
		t.Fatal(err)
	}
	st := out.Stacks[0]
	if st.StackStatus != cfntypes.StackStatusCreateInProgress {
		t.Fatalf("stack %s is %s before the custom resource was answered, want %s (waiting for it): %s",
			name, st.StackStatus, cfntypes.StackStatusCreateInProgress, aws.ToString(st.StackStatusReason))
	}
	stackID := aws.ToString(st.StackId)
	body, _ := json.Marshal(map[string]any{
		"Status": "SUCCESS", "Reason": "create: nothing to do", "PhysicalResourceId": name + "-alerting",
		"StackId": stackID, "RequestId": "test", "LogicalResourceId": "AlertingCleanup", "Data": map[string]any{},
	})
	u := fmt.Sprintf("%s/cloudformation_%s/cfnresponse?stack=%s", endpoint, emulator.Region, url.QueryEscape(stackID))
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("answer custom resource: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		t.Fatalf("answer custom resource: %s %s", resp.Status, b)
	}
}

// motoCompatible works around two moto 5.2 gaps, on a copy of the
// template. moto cannot resolve GetAtt on a resource type it skips, so the
// StatusFunctionUrl output (AWS::Lambda::Url) is dropped; TestOutputs checks
// it on the template. moto's IAM role reads an Fn::If that yields
// AWS::NoValue as a null policy, so conditional policies are dropped: with
// default parameters their conditions (HasConfigParameter,
// HasRecoveryTargets) are false anyway.
func motoCompatible(d doc) doc {
	var cp doc
	b, _ := json.Marshal(d)
	_ = json.Unmarshal(b, &cp)
	delete(cp["Outputs"].(map[string]any), "StatusFunctionUrl")
	for _, r := range cp.ofType("AWS::IAM::Role") {
		p := r["Properties"].(map[string]any)
		pols, _ := p["Policies"].([]any)
		kept := pols[:0]
		for _, pol := range pols {
			if _, cond := pol.(map[string]any)["Fn::If"]; !cond {
				kept = append(kept, pol)
			}
		}
		if pols != nil {
			p["Policies"] = kept
		}
	}
	return cp
}

// waitStack waits for the stack to finish creating; moto creates stacks
// synchronously, so this rarely loops.
func waitStack(ctx context.Context, t *testing.T, cfn *cloudformation.Client, name string) cfntypes.Stack {
	t.Helper()
	for {
		out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &name})
		if err != nil {
			t.Fatalf("DescribeStacks: %v", err)
		}
		st := out.Stacks[0]
		switch st.StackStatus {
		case cfntypes.StackStatusCreateComplete:
			return st
		case cfntypes.StackStatusCreateInProgress:
		default:
			t.Fatalf("stack %s: %s %s", name, st.StackStatus, aws.ToString(st.StackStatusReason))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stack %s: %v", name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// s3Put writes to moto's S3 over plain HTTP: the repository has no S3 SDK
// client, and moto accepts unsigned path-style requests.
func s3Put(ctx context.Context, t *testing.T, url string, body []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		t.Fatalf("PUT %s: %s %s", url, resp.Status, b)
	}
}

// dummyZip is a function package whose bootstrap is never run: moto only
// stores it.
func dummyZip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("#!/bin/sh\nexit 1\n")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
