package localrun

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vigil-monitor/vigil/internal/emulator"
)

// The variables a function reads that `sam local invoke` cannot set, and
// why: env.json need not name them.
var notInEnvJSON = map[string]string{
	// Set by the Lambda runtime (and by SAM's container), never by us.
	"LAMBDA_TASK_ROOT":                "the runtime's",
	"AWS_REGION":                      "the runtime's",
	"AWS_DEFAULT_REGION":              "the runtime's",
	"AWS_LAMBDA_FUNCTION_NAME":        "the runtime's: the coordinator invokes itself for its shards",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "the runtime's: it sizes the shards",
	// Optional tuning the template does not set, so SAM would ignore it.
	"VIGIL_PROBE_CONCURRENCY": "optional, not in template.yaml",
	"VIGIL_DNS_SERVER":        "optional, not in template.yaml: local runs point the probes at a test resolver",
}

// The variables template.yaml declares whose value in a default deploy is
// empty and means the same locally: one region, the home, and shards sized
// from the memory. SAM passes the template's value, so env.json need not
// name them.
var emptyIsLocal = map[string]bool{
	"VIGIL_SHARD_COMPONENTS": true,
	"VIGIL_HOME_REGION":      true,
	"VIGIL_REGIONS":          true,
	"VIGIL_HOME_FUNCTION":    true,
}

// sdkEndpoint is the variable of the AWS SDK that points every client at
// the emulator; the functions' code does not read it, the SDK does.
const sdkEndpoint = "AWS_ENDPOINT_URL"

// envNameRE is what an environment variable's name looks like.
var envNameRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// variablesRead returns the environment variables the functions' code reads:
// every name passed as a string literal to a call of os.Getenv,
// os.LookupEnv or a helper whose name says env (getenv) in
// internal/lambdaenv, where every function reads its settings, and in the
// functions' mains. It is derived from the source, so a variable added
// there is a variable env.json must name.
func variablesRead(t *testing.T, root string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "internal", "lambdaenv", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	mains, err := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range append(files, mains...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			var fn string
			switch f := call.Fun.(type) {
			case *ast.Ident:
				fn = f.Name
			case *ast.SelectorExpr:
				fn = f.Sel.Name
			}
			if !strings.Contains(strings.ToLower(fn), "env") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if name, err := strconv.Unquote(lit.Value); err == nil && envNameRE.MatchString(name) {
				read[name] = true
			}
			return true
		})
	}
	// The derivation must find what is certainly there, or it checks nothing.
	for _, sure := range []string{"VIGIL_TABLE", "LOG_LEVEL", "VIGIL_CONFIG_PARAMETER"} {
		if !read[sure] {
			t.Fatalf("found no read of %s in internal/lambdaenv; the derivation of the variables read is broken (found %v)", sure, slices.Sorted(maps.Keys(read)))
		}
	}
	return slices.Sorted(maps.Keys(read))
}

// samFunctions returns, for each AWS::Serverless::Function of template.yaml
// by logical id, the environment variables the template declares for it
// (its own and the Globals'): the only ones `sam local invoke` passes to it,
// with a value from --env-vars when that names them.
func samFunctions(t *testing.T, root string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	get := func(n *yaml.Node, path ...string) *yaml.Node {
		for _, key := range path {
			if n == nil || n.Kind != yaml.MappingNode {
				return nil
			}
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					next = n.Content[i+1]
				}
			}
			n = next
		}
		return n
	}
	keys := func(n *yaml.Node) []string {
		var out []string
		if n != nil && n.Kind == yaml.MappingNode {
			for i := 0; i < len(n.Content); i += 2 {
				out = append(out, n.Content[i].Value)
			}
		}
		return out
	}
	top := doc.Content[0]
	globals := keys(get(top, "Globals", "Function", "Environment", "Variables"))
	fns := map[string][]string{}
	res := get(top, "Resources")
	for _, id := range keys(res) {
		r := get(res, id)
		if get(r, "Type").Value != "AWS::Serverless::Function" {
			continue
		}
		vars := append(slices.Clone(globals), keys(get(r, "Properties", "Environment", "Variables"))...)
		slices.Sort(vars)
		fns[id] = slices.Compact(vars)
	}
	if len(fns) != 3 {
		t.Fatalf("template.yaml has functions %v, want 3", slices.Sorted(maps.Keys(fns)))
	}
	return fns
}

// readEnvJSON parses events/env.json as SAM does: one object, each key a
// function's logical id (or "Parameters", for all), each value an object
// of variable → value. SAM refuses anything else, and turns a value that is
// not a scalar into "" silently; env.json holds strings only.
func readEnvJSON(t *testing.T, root string) map[string]map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, SAMEnvFile))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s is not a JSON object: %v", SAMEnvFile, err)
	}
	out := map[string]map[string]string{}
	for fn, v := range raw {
		dec := json.NewDecoder(bytes.NewReader(v))
		var vars map[string]string
		if err := dec.Decode(&vars); err != nil || vars == nil {
			t.Fatalf("%s: %s is not an object of string values: %v", SAMEnvFile, fn, err)
		}
		out[fn] = vars
	}
	return out
}

// TestEnvJSON holds events/env.json (`sam local invoke --env-vars`) to the
// code and the template: every variable a function's code reads and the
// template lets SAM set has a local value, each resource it names is what
// `vigil-local setup` makes, and it names nothing the code does not read.
func TestEnvJSON(t *testing.T) {
	root, err := emulator.ModuleRoot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	read := variablesRead(t, root)
	fns := samFunctions(t, root)
	env := readEnvJSON(t, root)

	if got, want := slices.Sorted(maps.Keys(env)), slices.Sorted(maps.Keys(fns)); !slices.Equal(got, want) {
		t.Errorf("%s is keyed by %v, want the template's functions %v", SAMEnvFile, got, want)
	}
	// Each variable read is settable for some function, or excused.
	for _, v := range read {
		declared := false
		for _, vars := range fns {
			declared = declared || slices.Contains(vars, v)
		}
		if _, excused := notInEnvJSON[v]; !declared && !excused {
			t.Errorf("the functions read %s, but template.yaml declares it for none of them, so sam local invoke cannot set it: declare it, or excuse it in notInEnvJSON", v)
		}
	}

	// An empty value may stand only for a variable the template declares.
	for v := range emptyIsLocal {
		if !slices.ContainsFunc(slices.Collect(maps.Values(fns)), func(vars []string) bool { return slices.Contains(vars, v) }) {
			t.Errorf("emptyIsLocal names %s, which template.yaml declares for no function", v)
		}
	}

	region := emulator.Region
	want := map[string]string{
		"VIGIL_TABLE":              TableName,
		"VIGIL_CONFIG_PARAMETER":   ConfigParameter,
		"VIGIL_WARNING_TOPIC_ARN":  fmt.Sprintf("arn:aws:sns:%s:%s:%s", region, Account, WarningTopic),
		"VIGIL_CRITICAL_TOPIC_ARN": fmt.Sprintf("arn:aws:sns:%s:%s:%s", region, Account, CriticalTopic),
		"VIGIL_STATE_MACHINE_ARN":  StateMachineARN(region),
	}
	for _, fn := range slices.Sorted(maps.Keys(fns)) {
		t.Run(fn, func(t *testing.T) {
			vars := env[fn]
			for _, v := range read {
				if slices.Contains(fns[fn], v) && vars[v] == "" && !emptyIsLocal[v] {
					t.Errorf("%s reads %s and the template declares it, but env.json gives it no value (SAM would pass the template's, which names no local resource)", fn, v)
				}
			}
			for v, val := range vars {
				if v != sdkEndpoint && !slices.Contains(read, v) {
					t.Errorf("env.json names %s, which no function reads", v)
				}
				if w, ok := want[v]; ok && val != w {
					t.Errorf("%s = %q, want %q, what vigil-local setup makes", v, val, w)
				}
				if strings.TrimSpace(val) != val {
					t.Errorf("%s = %q has surrounding space", v, val)
				}
			}
			u, err := url.Parse(vars[sdkEndpoint])
			def, _ := url.Parse(DefaultEndpoint)
			if err != nil || u.Scheme != "http" || u.Hostname() != "host.docker.internal" || u.Port() != def.Port() {
				t.Errorf("%s = %q, want the emulator on the host as SAM's container reaches it, http://host.docker.internal:%s", sdkEndpoint, vars[sdkEndpoint], def.Port())
			}
			// SAM passes a variable only if the template declares it for
			// the function; any other is dropped without a word.
			for v := range vars {
				if v != sdkEndpoint && !slices.Contains(fns[fn], v) {
					t.Errorf("env.json names %s, which template.yaml does not declare for %s: sam local invoke would drop it", v, fn)
				}
			}
			if !slices.Contains(fns[fn], sdkEndpoint) {
				t.Skipf("template.yaml does not declare %s for %s, so sam local invoke drops it and the function reaches AWS, not the emulator: add `%s: \"\"` to Globals.Function.Environment.Variables", sdkEndpoint, fn, sdkEndpoint)
			}
		})
	}
}
