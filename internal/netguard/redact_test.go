package netguard

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigil-monitor/vigil/internal/bound"
)

// jsonString is s as JSON writes it, quotes included.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestRedact covers the three shapes of secret seen leaking: a plain token,
// one with quotes and backslashes, and a Bearer value whose target echoes
// only the token; then Basic credentials. Every message must lose every
// form of the secret and keep the rest.
func TestRedact(t *testing.T) {
	const (
		plain  = "sk-PLANTED-9f8e7d"
		quoted = `p"a\ss"w\\rd-PLANTED`
		token  = "sk-PLANTED-tok"
		pass   = "hunter2-PLANTED"
	)
	basic := base64.StdEncoding.EncodeToString([]byte("svc:" + pass))
	tests := []struct {
		name   string
		secret string
		msg    string
		want   string // the whole redacted message; empty to check only that nothing leaks
	}{
		{"plain, exact", plain, "token " + plain + " rejected", "token [redacted] rejected"},
		{"plain, Go-quoted", plain, fmt.Sprintf("token %q rejected", plain), `token "[redacted]" rejected`},
		{"plain, twice", plain, plain + "," + plain, "[redacted],[redacted]"},
		{"plain, cut after 9 bytes", plain, `is "` + plain[:9] + `…[+8 bytes]"`, `is "[redacted]…[+8 bytes]"`},
		{"plain, cut before the last 8 bytes", plain, "…" + plain[len(plain)-8:], "…[redacted]"},
		{"plain, a 7-byte fragment is no secret", plain, "sk-PLAN", "sk-PLAN"},
		{"plain, unrelated text untouched", plain, "connection refused", "connection refused"},

		{"quotes and backslashes, exact", quoted, "got " + quoted, "got [redacted]"},
		{"quotes and backslashes, %q", quoted, fmt.Sprintf("got %q", quoted), `got "[redacted]"`},
		{"quotes and backslashes, JSON", quoted, `{"token":` + jsonString(quoted) + `}`, `{"token":"[redacted]"}`},
		{"quotes and backslashes, JSON then %q", quoted, fmt.Sprintf("malformed %q", `{"token":`+jsonString(quoted)+`}`), `malformed "{\"token\":\"[redacted]\"}"`},
		{"quotes and backslashes, %q cut", quoted, bound.Quote(strings.Repeat("a", 50) + quoted), ""},

		{"Bearer, whole value", "Bearer " + token, "Authorization: Bearer " + token, "Authorization: [redacted]"},
		{"Bearer, the token alone", "Bearer " + token, `json_path "token" is "` + token + `"`, `json_path "token" is "[redacted]"`},
		{"Bearer in lower case", "bearer " + token, "echo: " + token, "echo: [redacted]"},
		{"Bearer, the token cut", "Bearer " + token, "echo: " + token[:10] + "…", "echo: [redacted]…"},
		{"Bearer, the scheme alone is no secret", "Bearer " + token, "want a Bearer token", "want a Bearer token"},

		{"Basic, encoded", "Basic " + basic, "echo: " + basic, "echo: [redacted]"},
		{"Basic, decoded", "Basic " + basic, "user svc:" + pass, "user [redacted]"},
		{"Basic, the password alone", "BASIC " + basic, "password " + strconv.Quote(pass), `password "[redacted]"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.msg, http.Header{"Authorization": {tt.secret}})
			if tt.want != "" && got != tt.want {
				t.Errorf("Redact(%q)\n = %q\nwant %q", tt.msg, got, tt.want)
			}
			if strings.Contains(got, "PLANTED") || !utf8.ValidString(got) {
				t.Errorf("Redact(%q) = %q, which leaks the secret", tt.msg, got)
			}
		})
	}
}

// TestRedactCutAnywhere quotes a long value ending in each secret, cut to
// bound.Value at every possible place in the secret, and checks no run of
// 8 or more bytes of the secret survives in any form.
func TestRedactCutAnywhere(t *testing.T) {
	for _, secret := range []string{"sk-PLANTED-9f8e7d", `p"a\ss"w\\rd-PLANTED`, "Bearer sk-PLANTED-tok", "Ключ-PLANTED-ключ"} {
		h := http.Header{"X-Api-Key": {secret}}
		echoed := secret
		if s, ok := strings.CutPrefix(secret, "Bearer "); ok {
			echoed = s
		}
		for pad := 0; pad < bound.Value; pad++ {
			got := Redact(bound.Quote(strings.Repeat("a", pad)+echoed), h)
			if frag := leakedFragment(got, echoed); frag != "" {
				t.Errorf("secret %q, pad %d: %q keeps %q", secret, pad, got, frag)
			}
			if !utf8.ValidString(got) {
				t.Errorf("secret %q, pad %d: %q is not valid UTF-8", secret, pad, got)
			}
		}
	}
}

// leakedFragment returns a run of 8 bytes of s, raw or Go-quoted, found in
// msg, or "".
func leakedFragment(msg, s string) string {
	for _, form := range []string{s, strconv.Quote(s)[1 : len(strconv.Quote(s))-1]} {
		for i := 0; i+minFragment <= len(form); i++ {
			if strings.Contains(msg, form[i:i+minFragment]) {
				return form[i : i+minFragment]
			}
		}
	}
	return ""
}

func TestRedactNothingToDo(t *testing.T) {
	for _, h := range []http.Header{nil, {}, {"X-Empty": {""}}} {
		if got := Redact("status 503, want 200", h); got != "status 503, want 200" {
			t.Errorf("Redact with %v = %q", h, got)
		}
	}
	if got := Redact("", http.Header{"X": {"secret-value"}}); got != "" {
		t.Errorf("Redact of the empty text = %q", got)
	}
}
