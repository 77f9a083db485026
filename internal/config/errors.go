package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/destination"
)

// Sentinel errors. Validation errors wrap one of these, so callers can test
// the kind of problem with errors.Is while the message names the integration,
// component and field.
var (
	// ErrNoIntegrations: the document lists no integration.
	ErrNoIntegrations = errors.New("no integrations configured")
	// ErrNoComponents: an integration lists no component.
	ErrNoComponents = errors.New("no components configured")
	// ErrDuplicateName: two integrations, two components of one integration,
	// or two extracted metrics of one integration share a name.
	ErrDuplicateName = errors.New("duplicate name")
	// ErrInvalidName: a name is empty or not usable as a CloudWatch dimension
	// value and Step Functions execution name part.
	ErrInvalidName = errors.New("invalid name")
	// ErrRequired: a required field is missing.
	ErrRequired = errors.New("must be set")
	// ErrInvalidType: a component's probe type is not http, websocket or tcp.
	ErrInvalidType = errors.New("invalid probe type")
	// ErrInvalidTarget: a target or URL cannot be parsed or does not suit the
	// probe type.
	ErrInvalidTarget = errors.New("invalid target")
	// ErrRefusedDestination: a target or URL points at a destination refused
	// by SPEC §10 without the flag that allows it: loopback (all of
	// 0.0.0.0/8 and ::), link-local, site-local and instance metadata,
	// multicast and broadcast (never allowed), an IPv4 of these embedded in
	// an IPv6 address (mapped, compatible, NAT64, 6to4), other schemes. It
	// is destination.ErrRefused (netguard.ErrRefused), so a refusal at load
	// and one at dial time test alike.
	ErrRefusedDestination = destination.ErrRefused
	// ErrOutOfRange: a number or duration is outside its allowed range, or a
	// warning threshold is past its critical one.
	ErrOutOfRange = errors.New("out of range")
	// ErrConflict: fields that exclude each other are set together, or none
	// of a required choice is set.
	ErrConflict = errors.New("conflicting fields")
	// ErrInvalidValue: a value has the wrong form (bad regex, unknown unit,
	// bad header name, unknown day, unloadable time zone, …).
	ErrInvalidValue = errors.New("invalid value")
	// ErrUnknownIntegration: Select was asked for a name the document lacks.
	ErrUnknownIntegration = errors.New("unknown integration")
)

// fieldError names the offending field; it unwraps to a sentinel so the
// message can say what is wrong in words while errors.Is still works.
type fieldError struct {
	field string
	msg   string
	err   error
}

func (e *fieldError) Error() string { return fmt.Sprintf("field %q: %s", e.field, e.msg) }
func (e *fieldError) Unwrap() error { return e.err }

// errs collects validation problems. Validation keeps going after the first
// problem so the user sees every one at once.
type errs []error

func (l *errs) add(field string, sentinel error, format string, args ...any) {
	*l = append(*l, &fieldError{field: field, msg: fmt.Sprintf(format, args...), err: sentinel})
}

// addErr adds err, which wraps a sentinel, as a problem of field.
func (l *errs) addErr(field string, err error) {
	*l = append(*l, &fieldError{field: field, msg: err.Error(), err: err})
}

// nest adds every problem of err under a field path prefix, so a problem
// found by a nested validator still names the full field path.
func (l *errs) nest(prefix string, err error) {
	for _, e := range leaves(err) {
		if fe, ok := e.(*fieldError); ok {
			*l = append(*l, &fieldError{field: prefix + "." + fe.field, msg: fe.msg, err: fe.err})
			continue
		}
		*l = append(*l, fmt.Errorf("field %q: %w", prefix, e))
	}
}

// within adds every problem of err prefixed with an identity such as
// `component "orchestrator"`. Each leaf is prefixed on its own so that every
// line of the joined message carries the full identity.
func (l *errs) within(identity string, err error) {
	for _, e := range leaves(err) {
		*l = append(*l, fmt.Errorf("%s: %w", identity, e))
	}
}

func (l errs) join() error { return errors.Join(l...) }

// leaves flattens errors.Join trees into their individual problems.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, leaves(e)...)
	}
	return out
}

// countProblems tells how many lines a joined validation error holds.
func countProblems(err error) int { return len(leaves(err)) }

// boundedList quotes names that came from a caller for an error message:
// each cut to bound.Value, at most five of them, so a caller cannot make the
// error (and the log line holding it) as large as its request.
func boundedList(items []string) string {
	const most = 5
	q := make([]string, 0, min(len(items), most)+1)
	for _, s := range items[:min(len(items), most)] {
		q = append(q, bound.Quote(s))
	}
	if len(items) > most {
		q = append(q, fmt.Sprintf("and %d more", len(items)-most))
	}
	return strings.Join(q, ", ")
}
