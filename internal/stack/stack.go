// Package stack checks Vigil's deployable SAM application (template.yaml)
// against the code: its tests lint the template, transform it offline,
// create the stack on the moto emulator, and hold the monitor's own alarms,
// the two severity topics, the IAM scoping and the alerting clean-up to
// what the functions need. Each integration's alarms and the dashboard are
// not in the template (the HealthCheck function creates them from the
// document, see internal/alerting). Cost arithmetic lives in COST.md.
package stack
