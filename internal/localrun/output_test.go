package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/emulator"
)

// What `make invoke` prints: FunctionLog gets the function's own JSON lines
// and nothing of moto's or the Runtime Interface Emulator's output, which
// goes to Log whole.
func TestFunctionLogHasOnlyTheFunctionsLines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var own, all emulator.SyncBuffer
	s, err := Start(ctx, Options{Dir: t.TempDir(), Functions: []string{"status"}, Log: &all, FunctionLog: &own})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ev, err := os.ReadFile("../../events/status-all.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Invoke(ctx, Status, ev); err != nil {
		t.Fatal(err)
	}
	s.Stop() // flushes every process's output

	lines := strings.Split(strings.TrimSuffix(own.String(), "\n"), "\n")
	answered := false
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("function log has a line that is not a JSON object: %q", l)
			continue
		}
		if rec["msg"] == "status answered" && rec["function"] == "status" {
			answered = true
		}
	}
	if !answered {
		t.Errorf("function log lacks the function's own line:\n%s", own.String())
	}
	for _, noise := range []string{"RequestId:", "(rapid)", "HTTP/1.1"} {
		if strings.Contains(own.String(), noise) {
			t.Errorf("function log contains emulator output %q:\n%s", noise, own.String())
		}
		if !strings.Contains(all.String(), noise) {
			t.Errorf("the emulators' log lacks %q", noise)
		}
	}
	if !strings.Contains(all.String(), `"msg":"status answered"`) {
		t.Errorf("the emulators' log lacks the function's lines; it should hold everything")
	}
}

func TestOwnLines(t *testing.T) {
	var out bytes.Buffer
	o := &ownLines{w: &out}
	for _, l := range []string{
		`02 Dec 2026 15:45:09,472 [INFO] (rapid) exec '/tmp/x/bootstrap' (cwd=/tmp/x, handler=)`,
		`START RequestId: da00da94 Version: $LATEST`,
		`{"time":"2026-12-02T15:45:09Z","level":"INFO","msg":"check done"}`,
		`127.0.0.1 - - [02/Dec/2026 15:45:09] "POST / HTTP/1.1" 200 -`,
		`{"_aws":{"Timestamp":1}}  `,
		`{"truncated":`,
		`REPORT RequestId: da00da94	Duration: 311.62 ms	{not json}`,
		`END RequestId: x{"msg":"prefixed"}`,
		``,
	} {
		o.line([]byte(l))
	}
	want := `{"time":"2026-12-02T15:45:09Z","level":"INFO","msg":"check done"}` + "\n" + `{"_aws":{"Timestamp":1}}` + "\n" + `{"msg":"prefixed"}` + "\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}
