package netguard

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// redacted stands where a secret was.
	redacted = "[redacted]"
	// minFragment is the shortest run of a secret token Redact removes
	// wherever it appears: a text cut to a bound can end in the middle of a
	// secret, and what is left must not give the secret away.
	minFragment = 8
)

// Redact returns msg with every secret header value in secret removed, in
// the shapes an echo and a quoting give it. For each value it removes:
//   - the value itself, and its escaped forms: as strconv.Quote (and %q)
//     writes it inside the quotes, ASCII-only too, as JSON writes it inside
//     the quotes (with and without HTML escaping), and JSON then Go-quoted;
//   - for "Bearer X" and "Basic X" (the scheme in any case), the token X
//     alone, and for Basic the base64-decoded "user:pass" and the password,
//     each in the same forms;
//   - any run of minFragment (8) or more bytes of a secret token — the
//     token of a Bearer or Basic value (and what Basic decodes to), else
//     the whole value — in any of those forms, so a text cut short in the
//     middle of a secret leaves no part of it long enough to matter.
//
// Each removal is replaced by "[redacted]". Redact a text before cutting it
// to a bound where possible; the fragment rule is what makes a cut made
// first safe. Redact cannot know every encoding a target might apply (hex,
// percent-encoding, its own escaping): where a text would quote a target's
// answer to a request that carried secret headers, quote nothing instead.
func Redact(msg string, secret http.Header) string {
	if msg == "" {
		return msg
	}
	var exact, tokens []string
	for _, vs := range secret {
		for _, v := range vs {
			if v != "" {
				exact, tokens = secretForms(v, exact, tokens)
			}
		}
	}
	if len(exact) == 0 {
		return msg
	}
	hide := make([]bool, len(msg))
	for _, s := range exact {
		markAll(msg, s, hide)
	}
	for _, s := range tokens {
		markFragments(msg, s, hide)
	}
	return replaceMarked(msg, hide)
}

// secretForms appends to exact the texts of v that Redact removes whole,
// and to tokens those it removes any fragment of.
func secretForms(v string, exact, tokens []string) ([]string, []string) {
	parts := []string{v}
	scheme, token, found := strings.Cut(strings.TrimSpace(v), " ")
	token = strings.TrimSpace(token)
	switch {
	case found && token != "" && strings.EqualFold(scheme, "Bearer"):
		parts = append(parts, token)
		tokens = appendEscaped(tokens, token)
	case found && token != "" && strings.EqualFold(scheme, "Basic"):
		parts = append(parts, token)
		tokens = appendEscaped(tokens, token)
		if userPass, ok := decodeBase64(token); ok {
			parts = append(parts, userPass)
			tokens = appendEscaped(tokens, userPass)
			if _, pass, ok := strings.Cut(userPass, ":"); ok && pass != "" {
				parts = append(parts, pass)
				tokens = appendEscaped(tokens, pass)
			}
		}
	default:
		tokens = appendEscaped(tokens, v)
	}
	for _, p := range parts {
		exact = appendEscaped(exact, p)
	}
	return exact, tokens
}

// appendEscaped appends s and each distinct escaped form of it to list.
func appendEscaped(list []string, s string) []string {
	forms := []string{
		s,
		unquote(strconv.Quote(s)),
		unquote(strconv.QuoteToASCII(s)),
		jsonEscape(s, true),
		jsonEscape(s, false),
		unquote(strconv.Quote(jsonEscape(s, false))),
	}
	for i, f := range forms {
		if f != "" && !contains(forms[:i], f) && !contains(list, f) {
			list = append(list, f)
		}
	}
	return list
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unquote drops the quotes around a quoted string.
func unquote(q string) string { return q[1 : len(q)-1] }

// jsonEscape is s as JSON writes it inside a string's quotes.
func jsonEscape(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		// A Go string always encodes; keep the raw form, which is listed anyway.
		return s
	}
	return unquote(strings.TrimSuffix(b.String(), "\n"))
}

// decodeBase64 decodes a Basic credential, padded or not.
func decodeBase64(s string) (string, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 {
			return string(b), true
		}
	}
	return "", false
}

// markAll marks every occurrence of s in msg, overlapping ones included.
func markAll(msg, s string, hide []bool) {
	for from := 0; from < len(msg); {
		i := strings.Index(msg[from:], s)
		if i < 0 {
			return
		}
		i += from
		for j := i; j < i+len(s); j++ {
			hide[j] = true
		}
		from = i + 1
	}
}

// markFragments marks every run of minFragment or more bytes of msg that
// is also a run of s. Every such run is covered by its windows of exactly
// minFragment bytes, so marking those windows marks the runs.
func markFragments(msg, s string, hide []bool) {
	if len(s) < minFragment || len(msg) < minFragment {
		return
	}
	windows := make(map[string]struct{}, len(s)-minFragment+1)
	for i := 0; i+minFragment <= len(s); i++ {
		windows[s[i:i+minFragment]] = struct{}{}
	}
	for i := 0; i+minFragment <= len(msg); i++ {
		if _, ok := windows[msg[i:i+minFragment]]; ok {
			for j := i; j < i+minFragment; j++ {
				hide[j] = true
			}
		}
	}
}

// replaceMarked replaces each run of marked bytes, widened to whole runes,
// with the redaction marker.
func replaceMarked(msg string, hide []bool) string {
	widenToRunes(msg, hide)
	var b strings.Builder
	b.Grow(len(msg))
	for i := 0; i < len(msg); {
		j := i
		for j < len(msg) && hide[j] == hide[i] {
			j++
		}
		if hide[i] {
			b.WriteString(redacted)
		} else {
			b.WriteString(msg[i:j])
		}
		i = j
	}
	return b.String()
}

// widenToRunes extends every marked run to whole runes: a run can start or
// end inside a rune when a secret holds multi-byte characters, and the
// half-rune left beside the marker would be invalid UTF-8.
func widenToRunes(msg string, hide []bool) {
	for i := 0; i < len(msg); i++ {
		if !hide[i] || i > 0 && hide[i-1] {
			continue
		}
		for k := i; k > 0 && !utf8.RuneStart(msg[k]); k-- {
			hide[k-1] = true
		}
		j := i
		for j < len(msg) && hide[j] {
			j++
		}
		for ; j < len(msg) && !utf8.RuneStart(msg[j]); j++ {
			hide[j] = true
		}
		i = j
	}
}
