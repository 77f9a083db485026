package stack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/emulator/emutest"
)

// One moto per test binary: it is only used by the stack test, which needs
// a fresh server (SPEC section 8), and starting one takes seconds.
var moto = &emutest.Shared{}

func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }

// repoRoot is where template.yaml lives.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

const (
	testBucket  = "vigil-stack-test"
	codeKey     = "code.zip"
	codeURI     = "s3://" + testBucket + "/" + codeKey
	aslRelPath  = "statemachine/recovery.asl.json"
	pythonTools = "cfn-lint and aws-sam-translator (`make deps` installs them: pip install cfn-lint)"
)

// transformed is the SAM-transformed template.yaml as a JSON document.
type transformed struct {
	Template doc `json:"template"`
}

// doc is a CloudFormation template decoded into plain maps.
type doc map[string]any

func (d doc) resources() map[string]any { m, _ := d["Resources"].(map[string]any); return m }

// resource returns the resource with logical id id, failing when it is
// missing or not of type kind.
func (d doc) resource(t *testing.T, id, kind string) map[string]any {
	t.Helper()
	r, ok := d.resources()[id].(map[string]any)
	if !ok {
		t.Fatalf("resource %s missing", id)
	}
	if r["Type"] != kind {
		t.Fatalf("resource %s: type %v, want %s", id, r["Type"], kind)
	}
	return r
}

func (d doc) ofType(kind string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range d.resources() {
		if m, ok := r.(map[string]any); ok && m["Type"] == kind {
			out[id] = m
		}
	}
	return out
}

// parameterDefaults returns each parameter's Default.
func (d doc) parameterDefaults() map[string]any {
	out := map[string]any{}
	params, _ := d["Parameters"].(map[string]any)
	for name, p := range params {
		if def, ok := p.(map[string]any)["Default"]; ok {
			out[name] = def
		}
	}
	return out
}

var (
	transformOnce   sync.Once
	transformResult *transformed
	transformErr    error
)

// transform runs testdata/transform.py once per test binary.
func transform(t *testing.T) *transformed {
	t.Helper()
	transformOnce.Do(func() { transformResult, transformErr = runTransform(repoRoot(t)) })
	if transformErr != nil {
		t.Fatal(transformErr)
	}
	return transformResult
}

func runTransform(root string) (*transformed, error) {
	python, err := exec.LookPath("python3")
	if err != nil {
		return nil, fmt.Errorf("python3 not found; it runs %s", pythonTools)
	}
	asl := filepath.Join(root, aslRelPath)
	if _, err := os.Stat(asl); errors.Is(err, os.ErrNotExist) {
		asl, err = placeholderASL()
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(filepath.Dir(asl))
	}
	cmd := exec.Command(python, filepath.Join("testdata", "transform.py"),
		filepath.Join(root, "template.yaml"), asl, codeURI)
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION="+emulator.Region, "AWS_REGION="+emulator.Region)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("transform.py: %w\n%s\n(it needs %s)", err, stderr.String(), pythonTools)
	}
	var out transformed
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("transform.py output: %w", err)
	}
	return &out, nil
}

// placeholderASL stands in for statemachine/recovery.asl.json until it
// exists: a one-state definition that invokes the Recovery function.
func placeholderASL() (string, error) {
	dir, err := os.MkdirTemp("", "vigil-asl-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "recovery.asl.json")
	const def = `{"StartAt":"Attempt","States":{"Attempt":{"Type":"Task",` +
		`"Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"${RecoveryFunctionArn}","Payload.$":"$"},"End":true}}}`
	return path, os.WriteFile(path, []byte(def), 0o600)
}

var subVarRE = regexp.MustCompile(`\$\{([A-Za-z0-9:._]+)\}`)

// resolve replaces Ref and Fn::Sub over the names in params (parameters and
// pseudo parameters). A Ref to anything else, such as a resource, is kept,
// as is a Sub variable whose value is not a string.
func resolve(v any, params map[string]any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if name, ok := x["Ref"].(string); ok {
				if p, ok := params[name]; ok {
					return p
				}
				return x
			}
			if s, ok := x["Fn::Sub"].(string); ok {
				out := subVarRE.ReplaceAllStringFunc(s, func(m string) string {
					if p, ok := params[m[2:len(m)-1]].(string); ok {
						return p
					}
					return m
				})
				if !strings.Contains(out, "${") {
					return out
				}
				return map[string]any{"Fn::Sub": out}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = resolve(e, params)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = resolve(e, params)
		}
		return out
	}
	return v
}

// pseudo are the pseudo parameters the tests resolve with.
var pseudo = map[string]any{
	"AWS::StackName": "vigil", "AWS::Region": emulator.Region, "AWS::Partition": "aws",
	"AWS::AccountId": "123456789012", "AWS::URLSuffix": "amazonaws.com",
}

// rootParams are template.yaml's parameter defaults plus pseudo parameters.
func rootParams(tr *transformed) map[string]any {
	p := tr.Template.parameterDefaults()
	for k, v := range pseudo {
		p[k] = v
	}
	return p
}

// regionParams are the parameters that make a stack a home, a probe-only
// stack or a single-region one; with the pseudo parameters they decide the
// conditions specialize resolves.
var regionParams = []string{"HomeRegion", "Regions", "HomeStackName"}

// The stacks the tests look at. The test stack's region is emulator.Region;
// a probe-only stack's home is elsewhere.
var (
	singleRegion = map[string]any{}
	multiHome    = map[string]any{"HomeRegion": emulator.Region, "Regions": emulator.Region + ",eu-west-1,ap-southeast-2"}
	probeOnly    = map[string]any{"HomeRegion": "eu-west-1", "Regions": "eu-west-1," + emulator.Region, "HomeStackName": "vigil-home"}
)

// condResult is a condition evaluated over the region parameters only: known
// (true or false), or unknown and then equivalent to the condition named
// residual (an And whose region half is true reduces to its other half).
type condResult struct {
	known, value bool
	residual     string
}

// specialize returns the template as CloudFormation would see it for a stack
// with the region parameters set (the others left unknown): resources and
// outputs whose condition is false are dropped, a true condition is removed,
// Fn::If on a known condition is replaced by its branch, and values that
// become AWS::NoValue are removed. With every region parameter empty it is
// the single-region stack, which must mean what the template meant before
// regions existed: the tests written for that stack run on it unchanged.
func (d doc) specialize(t *testing.T, region map[string]any) doc {
	t.Helper()
	params := map[string]any{}
	for k, v := range pseudo {
		params[k] = v
	}
	for _, k := range regionParams {
		params[k] = ""
	}
	for k, v := range region {
		params[k] = v
	}
	conds, _ := d["Conditions"].(map[string]any)
	memo := map[string]condResult{}
	var cond func(name string) condResult
	var eval func(v any) condResult
	value := func(v any) (string, bool) {
		switch x := resolve(v, params).(type) {
		case string:
			return x, true
		}
		return "", false
	}
	eval = func(v any) condResult {
		m, _ := v.(map[string]any)
		for fn, arg := range m {
			args, _ := arg.([]any)
			switch fn {
			case "Condition":
				return cond(arg.(string))
			case "Fn::Equals":
				a, okA := value(args[0])
				b, okB := value(args[1])
				if okA && okB {
					return condResult{known: true, value: a == b}
				}
				return condResult{}
			case "Fn::Not":
				r := eval(args[0])
				if r.known {
					return condResult{known: true, value: !r.value}
				}
				return condResult{}
			case "Fn::And", "Fn::Or":
				decisive := fn == "Fn::Or" // the value that decides alone
				var unknown []condResult
				for _, a := range args {
					r := eval(a)
					if r.known && r.value == decisive {
						return r
					}
					if !r.known {
						unknown = append(unknown, r)
					}
				}
				if len(unknown) == 0 {
					return condResult{known: true, value: !decisive}
				}
				if len(unknown) == 1 {
					return unknown[0]
				}
				return condResult{}
			}
		}
		t.Fatalf("condition %v: unsupported", v)
		return condResult{}
	}
	cond = func(name string) condResult {
		if r, ok := memo[name]; ok {
			return r
		}
		expr, ok := conds[name]
		if !ok {
			t.Fatalf("unknown condition %s", name)
		}
		r := eval(expr)
		if !r.known && r.residual == "" {
			r.residual = name
		}
		memo[name] = r
		return r
	}
	noValue := func(v any) bool {
		m, ok := v.(map[string]any)
		return ok && len(m) == 1 && m["Ref"] == "AWS::NoValue"
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if ifv, ok := x["Fn::If"].([]any); ok && len(x) == 1 {
				r := cond(ifv[0].(string))
				switch {
				case !r.known:
					return map[string]any{"Fn::If": []any{r.residual, walk(ifv[1]), walk(ifv[2])}}
				case r.value:
					return walk(ifv[1])
				default:
					return walk(ifv[2])
				}
			}
			out := map[string]any{}
			for k, e := range x {
				if w := walk(e); !noValue(w) {
					out[k] = w
				}
			}
			return out
		case []any:
			out := []any{}
			for _, e := range x {
				if w := walk(e); !noValue(w) {
					out = append(out, w)
				}
			}
			return out
		}
		return v
	}
	out := doc{}
	for k, v := range d {
		out[k] = v
	}
	for _, section := range []string{"Resources", "Outputs"} {
		items, _ := d[section].(map[string]any)
		kept := map[string]any{}
		for id, item := range items {
			m := item.(map[string]any)
			if c, ok := m["Condition"].(string); ok {
				r := cond(c)
				if r.known && !r.value {
					continue
				}
				m = walk(m).(map[string]any)
				if r.known {
					delete(m, "Condition")
				} else {
					m["Condition"] = r.residual
				}
			} else {
				m = walk(m).(map[string]any)
			}
			kept[id] = m
		}
		out[section] = kept
	}
	return out
}

// home is the single-region stack a default deploy makes.
func (tr *transformed) home(t *testing.T) doc { return tr.Template.specialize(t, singleRegion) }
