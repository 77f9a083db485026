package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/health"
)

// A stored record that cannot be read is named in a note of its own, with
// why, beside every readable integration; a configured integration whose
// record is unreadable is not shown as never checked.
func TestUnreadableRecords(t *testing.T) {
	doc := parse(t) // configures agent-bridge
	good := health.Record{Integration: "payments", Version: 2, State: health.Active, Score: 100, HealthChecksPerformed: 2, LastHealthCheck: now.Add(-time.Minute)}
	bad := []Unreadable{
		{Integration: "zeta", Error: `invalid health record "zeta": state "EXPLODED" is unknown`},
		{Integration: "agent-bridge", Error: "schema is 2, want 1"},
	}
	rep := JSON([]health.Record{good}, doc, now, WithUnreadable(bad))
	if len(rep.Integrations) != 1 || rep.Integrations[0].Name != "payments" {
		t.Errorf("integrations = %+v, want payments alone (agent-bridge is unreadable, not never checked)", rep.Integrations)
	}
	want := []Unreadable{bad[1], bad[0]} // sorted by name
	if fmt.Sprint(rep.Unreadable) != fmt.Sprint(want) || rep.UnreadableOmitted != 0 {
		t.Errorf("unreadable = %+v (+%d), want %+v", rep.Unreadable, rep.UnreadableOmitted, want)
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"unreadable":[{"integration":"agent-bridge","error":"schema is 2, want 1"},`) {
		t.Errorf("JSON lacks the unreadable list:\n%s", js)
	}

	var md bytes.Buffer
	if err := RenderMarkdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"· 1 integration · default SLO 99.9 % · **2 stored records could not be read**",
		"## Unreadable records",
		"2 stored records could not be read.",
		"| agent-bridge | schema is 2, want 1 |",
		`| zeta | invalid health record "zeta": state "EXPLODED" is unknown |`,
		"## payments",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md.String())
		}
	}
	if strings.Contains(md.String(), "## agent-bridge") {
		t.Errorf("Markdown shows the unreadable agent-bridge as an integration:\n%s", md.String())
	}

	t.Run("none: no note", func(t *testing.T) {
		rep := JSON([]health.Record{good}, doc, now)
		js, _ := json.Marshal(rep)
		var md bytes.Buffer
		if err := RenderMarkdown(&md, rep); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(js), "unreadable") || strings.Contains(md.String(), "nreadable") {
			t.Errorf("a report without unreadable records mentions them:\n%s\n%s", js, md.String())
		}
	})

	t.Run("bounded", func(t *testing.T) {
		var many []Unreadable
		for i := range MaxUnreadable + 7 {
			many = append(many, Unreadable{Integration: fmt.Sprintf("i%03d-%s", i, strings.Repeat("n", 100)), Error: strings.Repeat("e", 100_000)})
		}
		many[0].Error = "<img src=x onerror=alert(1)> | [x](javascript:alert(1))"
		rep := JSON(nil, nil, now, WithUnreadable(many))
		if len(rep.Unreadable) != MaxUnreadable || rep.UnreadableOmitted != 7 {
			t.Fatalf("%d listed, %d omitted; want %d and 7", len(rep.Unreadable), rep.UnreadableOmitted, MaxUnreadable)
		}
		for _, u := range rep.Unreadable {
			if len(u.Integration) > 64 || len(u.Error) > maxUnreadableError {
				t.Fatalf("unbounded entry: %d-byte name, %d-byte error", len(u.Integration), len(u.Error))
			}
		}
		var md bytes.Buffer
		if err := RenderMarkdown(&md, rep); err != nil {
			t.Fatal(err)
		}
		out := md.String()
		for _, want := range []string{"**57 stored records could not be read**", "… and 7 more, not listed.", "&lt;img src=x onerror=alert(1)&gt; \\| \\[x\\](javascript:alert(1))"} {
			if !strings.Contains(out, want) {
				t.Errorf("Markdown lacks %q", want)
			}
		}
		if len(out) > 64<<10 {
			t.Errorf("Markdown of %d unreadable records is %d bytes", len(many), len(out))
		}
	})
}
