// Command vigil-local runs Vigil on this machine with no AWS account: moto
// stands in for AWS, the real function binaries run under the Lambda Runtime
// Interface Emulator, and a demo bridge is the monitored system.
//
//	vigil-local run                      the demo scenario (make run)
//	vigil-local status                   the health report of the last run (make status)
//	vigil-local invoke FUNCTION EVENT    one function, one event file (make invoke)
//	vigil-local alarms [-live] [FILE]    the alarms and dashboard a document makes (make alarms)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vigil-monitor/vigil/internal/alerting"
	"github.com/vigil-monitor/vigil/internal/awsenv/cwclient"
	"github.com/vigil-monitor/vigil/internal/awsenv/session"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/demobridge"
	"github.com/vigil-monitor/vigil/internal/localrun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vigil-local:", err)
		os.Exit(1)
	}
}

// snapshotPath keeps the records of the last `make run` for `make status`.
const snapshotPath = ".vigil/last-run.json"

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		args = []string{"run"}
	}
	if args[0] == "alarms" {
		return alarms(ctx, args[1:])
	}
	dir, err := os.MkdirTemp("", "vigil-local-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	switch args[0] {
	case "run":
		fmt.Fprintln(os.Stderr, "vigil-local: building the function bootstraps, starting moto, the Runtime Interface Emulator and the demo bridge (the first run compiles for a minute or two)…")
		s, err := localrun.Start(ctx, localrun.Options{Dir: dir, Bridge: demobridge.New(demobridge.Options{InitChecks: 1}), StackName: "vigil-local"})
		if err != nil {
			return err
		}
		defer s.Stop()
		if err := s.Demo(ctx, os.Stdout); err != nil {
			return fmt.Errorf("%w (function logs were in %s)", err, dir)
		}
		if err := s.SaveSnapshot(ctx, snapshotPath); err != nil {
			return err
		}
		s.Stop()
		fmt.Printf("Everything started by this run is stopped now. `make status` prints its health report (records kept in %s).\n", snapshotPath)
		return nil
	case "status":
		s, err := localrun.Start(ctx, localrun.Options{Dir: dir, Functions: []string{"status"}})
		if err != nil {
			return err
		}
		defer s.Stop()
		n, err := s.LoadSnapshot(ctx, snapshotPath)
		if err != nil {
			return err
		}
		report, err := s.StatusReport(ctx)
		if err != nil {
			return err
		}
		fmt.Print(report)
		fmt.Fprintf(os.Stderr, "(%d integration record(s) from %s, served by the Status function under the Runtime Interface Emulator)\n", n, snapshotPath)
		return nil
	case "invoke":
		if len(args) != 3 {
			return fmt.Errorf("usage: vigil-local invoke healthcheck|recovery|status EVENT_FILE")
		}
		event, err := os.ReadFile(args[2])
		if err != nil {
			return err
		}
		s, err := localrun.Start(ctx, localrun.Options{Dir: dir, Functions: []string{args[1]}, Bridge: demobridge.New(demobridge.Options{}), Log: os.Stderr})
		if err != nil {
			return err
		}
		defer s.Stop()
		out, err := s.Invoke(ctx, "vigil-"+args[1], event)
		if err != nil {
			return err
		}
		fmt.Println(string(out))
		return nil
	}
	return fmt.Errorf("unknown command %q (want run, status, invoke or alarms)", args[0])
}

// alarms prints the plan for a document. Offline (the default) it lists
// every alarm and the dashboard the document makes; with -live it reads the
// account's CloudWatch (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL as the SDK
// reads them) and prints only what would change. It never writes.
func alarms(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("alarms", flag.ContinueOnError)
	live := fs.Bool("live", false, "compare with the account's CloudWatch (read only)")
	stack := fs.String("stack", envOr("VIGIL_STACK_NAME", "vigil"), "stack name: the alarms' prefix and the dashboard's name")
	warning := fs.String("warning-topic", envOr("VIGIL_WARNING_TOPIC_ARN", ""), "warning topic ARN (the stack output WarningTopicArn)")
	critical := fs.String("critical-topic", envOr("VIGIL_CRITICAL_TOPIC_ARN", ""), "critical topic ARN (the stack output CriticalTopicArn)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	file := "config/vigil.yaml"
	if fs.NArg() > 0 {
		file = fs.Arg(0)
	}
	doc, err := config.LoadFile(file)
	if err != nil {
		return err
	}
	o := alerting.Options{Stack: *stack, WarningTopic: *warning, CriticalTopic: *critical, Region: envOr("AWS_REGION", "us-east-1")}
	if !*live {
		fmt.Printf("Plan for %s in stack %q (offline: everything is new; -live compares with CloudWatch):\n", file, *stack)
		return alerting.WriteAlarms(os.Stdout, alerting.Build(doc, o, time.Now()))
	}
	s, err := session.Load(ctx)
	if err != nil {
		return err
	}
	o.Region = s.Config.Region
	p := alerting.Build(doc, o, time.Now())
	changes, err := alerting.Diff(ctx, cwclient.New(s.Config), p)
	if err != nil {
		return err
	}
	fmt.Printf("Plan for %s in stack %q against CloudWatch in %s (%d alarms planned):\n", file, *stack, o.Region, len(p.Alarms))
	return alerting.WritePlan(os.Stdout, changes)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
