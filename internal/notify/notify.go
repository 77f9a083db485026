// Package notify publishes state changes and recovery outcomes to SNS (SPEC
// §5), so subscribers learn of them without waiting for an alarm. Each event
// has a severity (Severity) and goes to that severity's topic: the warning
// topic for what automation is handling, the critical topic for what needs
// a person.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/vigil-monitor/vigil/internal/health"
)

// Event kinds, also sent as the "kind" message attribute.
const (
	KindStateChange       = "state_change"
	KindRecoveryStarted   = "recovery_started"
	KindRecoverySucceeded = "recovery_succeeded"
	KindRecoveryFailed    = "recovery_failed"
	KindRecoveryExhausted = "recovery_exhausted"
	// KindRecoveryEnded: an execution ended without recording its outcome
	// (stopped, timed out, failed unrecorded) and a check closed it.
	KindRecoveryEnded = "recovery_ended"
	// KindCheckerImpaired, KindCheckerRecovered: checks turned inconclusive
	// through a fault on the checker's side, and conclusive again. They name
	// no single integration.
	KindCheckerImpaired  = "checker_impaired"
	KindCheckerRecovered = "checker_recovered"
	// KindRegionImpaired, KindRegionRecovered: a probing region's view was
	// set aside by the quorum (it contradicted every other region), and
	// taken again. They name the region, no integration.
	KindRegionImpaired  = "region_impaired"
	KindRegionRecovered = "region_recovered"
)

// Message attribute names subscribers may filter on.
const (
	AttrKind        = "kind"
	AttrSeverity    = "severity" // SeverityWarning or SeverityCritical
	AttrIntegration = "integration"
	AttrState       = "state" // the To state, when set
)

// Severities, also sent as the "severity" message attribute and in the
// body. The template's own alarms use the same two topics.
const (
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// MaxSubjectLen is the longest subject sent, in characters: SNS requires
// fewer than 100.
const MaxSubjectLen = 99

// ErrUnknownKind is returned by Publish for an Event whose Kind is not one of
// the Kind constants.
var ErrUnknownKind = errors.New("notify: unknown event kind")

// Event is one notification. Kind is required; the other fields are filled
// as far as they apply (From/To for state changes, IncidentID and Attempt for
// recovery events).
type Event struct {
	Kind        string       `json:"kind"`
	Integration string       `json:"integration"`
	From        health.State `json:"from,omitempty"`
	To          health.State `json:"to,omitempty"`
	Cause       string       `json:"cause,omitempty"`
	IncidentID  string       `json:"incident_id,omitempty"`
	Attempt     int          `json:"attempt,omitempty"`
	At          time.Time    `json:"at"`
	// Region is the probing region of a region event.
	Region string `json:"region,omitempty"`
}

// Severity is the severity of ev, which picks its topic. The rule is that
// whoever was paged for something sees it end on the same topic:
//
//   - a state change touching FAILED (into it, or out of it: FAILED → ACTIVE,
//     FAILED → DEGRADED) is critical, so the person paged for the failure
//     sees it resolve; every other change (into or out of DEGRADED, the first
//     checks of INITIALIZING) is a warning;
//   - recovery started and a failed attempt are warnings: automation is
//     still working on it, and the state change already paged if it was
//     FAILED;
//   - recovery succeeded follows the state change rule (a FAILED integration
//     recovered is critical: it resolves that page);
//   - recovery exhausted is critical: automation has given up and a cooldown
//     runs, a person must act;
//   - an execution that ended without recording its outcome is critical
//     unless the integration is ACTIVE: otherwise it is exhaustion by
//     another road (a cooldown follows, nothing else is being tried);
//   - a region impaired or recovered is a warning: the other regions still
//     decide every tick, nothing is lost while it lasts;
//   - checker impaired is critical (nothing is counted or recovered while it
//     lasts, and the <stack>/checker-impaired alarm pages too), and checker
//     recovered is critical so that page is seen to resolve.
//
// An unknown kind is critical, so a kind added without a rule here pages
// rather than hides (Publish refuses unknown kinds anyway).
func Severity(ev Event) string {
	touchesFailed := ev.From == health.Failed || ev.To == health.Failed
	switch ev.Kind {
	case KindStateChange, KindRecoverySucceeded:
		if touchesFailed {
			return SeverityCritical
		}
		return SeverityWarning
	case KindRecoveryStarted, KindRecoveryFailed, KindRegionImpaired, KindRegionRecovered:
		return SeverityWarning
	case KindRecoveryEnded:
		if ev.To == health.Active {
			return SeverityWarning
		}
		return SeverityCritical
	}
	return SeverityCritical
}

// SNSAPI is the part of the SNS client Publisher uses; *sns.Client
// satisfies it.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var _ SNSAPI = (*sns.Client)(nil)

// Topics are the SNS topics events go to, by severity. An empty ARN
// disables that severity only: its events are dropped without a call.
type Topics struct {
	Warning  string // topic ARN of SeverityWarning events
	Critical string // topic ARN of SeverityCritical events
}

// Publisher sends each event to the topic of its severity. It is safe for
// concurrent use.
type Publisher struct {
	client SNSAPI
	topics Topics
}

// NewRoutedPublisher returns a Publisher that sends each event to the topic
// of its Severity (the functions' wiring, with the template's two topics).
func NewRoutedPublisher(client SNSAPI, topics Topics) *Publisher {
	return &Publisher{client: client, topics: topics}
}

// NewPublisher returns a Publisher that sends every event to topicARN,
// whatever its severity (the severity attribute still says which), for a
// caller with one topic. With an empty topicARN notifications are disabled
// and Publish does nothing.
func NewPublisher(client SNSAPI, topicARN string) *Publisher {
	return NewRoutedPublisher(client, Topics{Warning: topicARN, Critical: topicARN})
}

// Enabled reports whether events of any severity are sent anywhere.
func (p *Publisher) Enabled() bool {
	return p != nil && (p.topics.Warning != "" || p.topics.Critical != "")
}

// topic is the ARN events of severity go to; "" when that severity is
// disabled.
func (p *Publisher) topic(severity string) string {
	if severity == SeverityWarning {
		return p.topics.Warning
	}
	return p.topics.Critical
}

// message is the JSON body: the event plus a sentence for people reading it
// in an email.
type message struct {
	Event
	Severity string `json:"severity"`
	Source   string `json:"source"`
	Summary  string `json:"summary"`
}

// Publish sends ev to the topic of its Severity as a JSON message with a
// readable subject and the kind, severity, integration and (when set) state
// message attributes. It returns nil without a call when ev's severity is
// disabled. An unknown kind is ErrUnknownKind, whatever is enabled.
func (p *Publisher) Publish(ctx context.Context, ev Event) error {
	summary, err := Summary(ev)
	if err != nil {
		return err
	}
	if !p.Enabled() {
		return nil
	}
	severity := Severity(ev)
	topic := p.topic(severity)
	if topic == "" {
		return nil
	}
	body, err := json.Marshal(message{Event: ev, Severity: severity, Source: "vigil", Summary: summary})
	if err != nil {
		return fmt.Errorf("notify: encode %s for %s: %w", ev.Kind, ev.Integration, err)
	}
	attrs := map[string]types.MessageAttributeValue{
		AttrKind:     stringAttr(ev.Kind),
		AttrSeverity: stringAttr(severity),
	}
	// SNS refuses empty attribute values.
	if ev.Integration != "" {
		attrs[AttrIntegration] = stringAttr(ev.Integration)
	}
	if ev.To != "" {
		attrs[AttrState] = stringAttr(string(ev.To))
	}
	_, err = p.client.Publish(ctx, &sns.PublishInput{
		TopicArn:          aws.String(topic),
		Subject:           aws.String(Subject(ev)),
		Message:           aws.String(string(body)),
		MessageAttributes: attrs,
	})
	if err != nil {
		return fmt.Errorf("notify: publish %s for %s to the %s topic: %w", ev.Kind, ev.Integration, severity, err)
	}
	return nil
}

// Summary is the one-line description of ev used in the message body.
func Summary(ev Event) (string, error) {
	name := ev.Integration
	switch ev.Kind {
	case KindStateChange:
		s := fmt.Sprintf("%s changed from %s to %s", name, orUnknown(ev.From), orUnknown(ev.To))
		if ev.Cause != "" {
			s += ": " + ev.Cause
		}
		return s, nil
	case KindRecoveryStarted:
		return fmt.Sprintf("%s recovery started%s%s", name, attempt(ev), cause(ev)), nil
	case KindRecoverySucceeded:
		return fmt.Sprintf("%s recovered%s", name, attempt(ev)), nil
	case KindRecoveryFailed:
		return fmt.Sprintf("%s recovery failed%s%s", name, attempt(ev), cause(ev)), nil
	case KindRecoveryExhausted:
		return fmt.Sprintf("%s recovery exhausted after %d attempts%s", name, ev.Attempt, cause(ev)), nil
	case KindRecoveryEnded:
		return fmt.Sprintf("%s recovery execution ended without recording its outcome%s", name, cause(ev)), nil
	case KindCheckerImpaired:
		return "Vigil's checker is impaired; checks are inconclusive and count nothing" + cause(ev), nil
	case KindCheckerRecovered:
		return "Vigil's checker works again" + cause(ev), nil
	case KindRegionImpaired:
		return fmt.Sprintf("Probing region %s is impaired; the other regions decide without it%s", ev.Region, cause(ev)), nil
	case KindRegionRecovered:
		return fmt.Sprintf("Probing region %s agrees with the others again%s", ev.Region, cause(ev)), nil
	}
	return "", fmt.Errorf("%w %q for %s", ErrUnknownKind, ev.Kind, name)
}

// Subject is ev's SNS subject, e.g. "[Vigil] agent-bridge ACTIVE → FAILED",
// cut to MaxSubjectLen characters.
func Subject(ev Event) string {
	var s string
	switch ev.Kind {
	case KindStateChange:
		s = fmt.Sprintf("[Vigil] %s %s → %s", ev.Integration, orUnknown(ev.From), orUnknown(ev.To))
	case KindRecoveryStarted:
		s = fmt.Sprintf("[Vigil] %s recovery started%s", ev.Integration, attempt(ev))
	case KindRecoverySucceeded:
		s = fmt.Sprintf("[Vigil] %s recovered%s", ev.Integration, attempt(ev))
	case KindRecoveryFailed:
		s = fmt.Sprintf("[Vigil] %s recovery failed%s", ev.Integration, attempt(ev))
	case KindRecoveryExhausted:
		s = fmt.Sprintf("[Vigil] %s recovery exhausted", ev.Integration)
	case KindRecoveryEnded:
		s = fmt.Sprintf("[Vigil] %s recovery ended unrecorded", ev.Integration)
	case KindCheckerImpaired:
		s = "[Vigil] checker impaired: checks inconclusive"
	case KindCheckerRecovered:
		s = "[Vigil] checker recovered"
	case KindRegionImpaired:
		s = fmt.Sprintf("[Vigil] region %s impaired", ev.Region)
	case KindRegionRecovered:
		s = fmt.Sprintf("[Vigil] region %s recovered", ev.Region)
	default:
		s = fmt.Sprintf("[Vigil] %s %s", ev.Integration, ev.Kind)
	}
	return clip(s, MaxSubjectLen)
}

func attempt(ev Event) string {
	if ev.Attempt <= 0 {
		return ""
	}
	return fmt.Sprintf(" (attempt %d)", ev.Attempt)
}

func cause(ev Event) string {
	if ev.Cause == "" {
		return ""
	}
	return ": " + ev.Cause
}

func orUnknown(s health.State) health.State {
	if s == "" {
		return "?"
	}
	return s
}

// clip cuts s to n characters, ending with "…" when cut. SNS also refuses
// line breaks and control characters in subjects, so those become spaces.
func clip(s string, n int) string {
	out := make([]rune, 0, min(len(s), n))
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			r = ' '
		}
		out = append(out, r)
	}
	if len(out) > n {
		out = append(out[:n-1], '…')
	}
	return string(out)
}

func stringAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}
