// Package bound cuts text that comes from outside Vigil — a target's answer, a
// caller's event, an action's error — to a fixed size before it reaches state,
// logs or notifications, so no single answer can grow a DynamoDB item past
// its limit or flood a log line (SPEC §4, "every text … is bounded").
package bound

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sizes, in bytes of UTF-8, of the texts Vigil keeps.
const (
	// Value is a value quoted inside a message: a compared body value, a
	// name echoed back in an error.
	Value = 64
	// Error is one component's error. An integration keeps one per
	// component in its state item, so this and config.MaxComponents size
	// the item together.
	Error = 256
	// Cause is why something happened: a transition's cause (kept in the
	// state history), why a check was inconclusive.
	Cause = 512
	// Message is a text that joins several errors: an integration's
	// error_message, a recovery attempt's error.
	Message = 2048
)

// Text returns s cut to at most limit bytes, rune-aligned, with invalid UTF-8
// and control characters replaced, so the result is safe to store, log and
// render. A cut text ends with a visible marker saying how much was dropped;
// the marker is included in limit. Texts within limit are returned unchanged
// apart from the replacements. Only the first limit bytes of s are ever
// looked at, so a 400 KB answer costs what a short one does.
func Text(s string, limit int) string {
	total := len(s)
	if total > limit {
		s = s[:limit] // nothing past limit can show
	}
	s = clean(s)
	if total <= limit && len(s) <= limit {
		return s
	}
	// The marker's length depends on how much is dropped, which depends on
	// where the cut falls; measuring with the whole length is never short.
	// Replacements can make the cleaned text longer than the original.
	total = max(total, len(s))
	marker := "…[+" + strconv.Itoa(total) + " bytes]"
	keep := limit - len(marker)
	if keep <= 0 {
		if limit >= len("…") {
			return "…"
		}
		return ""
	}
	keep = min(keep, len(s))
	for keep > 0 && keep < len(s) && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + "…[+" + strconv.Itoa(total-keep) + " bytes]"
}

// Quote is strconv.Quote of Text(s, Value): a bounded value for a message.
func Quote(s string) string { return strconv.Quote(Text(s, Value)) }

// clean replaces invalid UTF-8 with U+FFFD and control characters (other
// than tab) with a space: they carry nothing a reader needs and some of them
// grow sixfold when JSON-escaped.
func clean(s string) string {
	if !needsClean(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func needsClean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' || c == 0x7f || c >= utf8.RuneSelf {
			return !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f })
		}
	}
	return false
}
