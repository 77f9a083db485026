// Command vigil-local runs Vigil on this machine with no AWS account: moto
// stands in for AWS, the real function binaries run under the Lambda Runtime
// Interface Emulator, and a demo bridge is the monitored system.
//
//	vigil-local run                      the demo scenarios, one region then three (make run)
//	vigil-local status                   the health report of the last run (make status)
//	vigil-local invoke FUNCTION EVENT    one function, one event file (make invoke)
//	vigil-local alarms [-live] [FILE]    the alarms and dashboard a document makes (make alarms)
//	vigil-local compile [-o OUT] [FILE]  the document validated and compiled to the JSON the functions load (sam build)
//	vigil-local setup [-endpoint URL]    on a moto you started, what events/env.json names (sam local invoke)
//	vigil-local bridge [-addr ADDR]      the demo bridge alone, until interrupted (sam local invoke)
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
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

// invokeLogPath keeps what moto and the Runtime Interface Emulator print
// during the last `make invoke`.
const invokeLogPath = ".vigil/invoke.log"

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		args = []string{"run"}
	}
	switch args[0] {
	case "alarms":
		return alarms(ctx, args[1:])
	case "compile":
		return compile(args[1:])
	case "setup":
		return setup(ctx, args[1:])
	case "bridge":
		return bridge(ctx, args[1:])
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
		shards, err := s.DescribeShards(0)
		if err != nil {
			return err
		}
		fmt.Printf("\n%s.\n\n", shards)
		s.Stop()

		// The same monitor in three regions, sharded, on a second stack.
		fmt.Fprintln(os.Stderr, "vigil-local: starting a second stack: three regions of three HealthCheck bootstraps each, every region behind its own resolver…")
		regionsDir := filepath.Join(dir, "regions")
		rs, err := localrun.StartRegions(ctx, localrun.Options{Dir: regionsDir})
		if err != nil {
			return err
		}
		defer rs.Stop()
		if err := rs.RegionsDemo(ctx, os.Stdout); err != nil {
			return fmt.Errorf("%w (function logs were in %s)", err, regionsDir)
		}
		rs.Stop()
		fmt.Printf("\nEverything started by this run is stopped now. `make status` prints the health report of the first stack (records kept in %s).\n", snapshotPath)
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
		// The terminal gets the function's own log lines and its answer;
		// moto's request log and the emulator's chatter go to a file.
		emulators, err := createFile(invokeLogPath)
		if err != nil {
			return err
		}
		defer emulators.Close()
		fmt.Fprintf(os.Stderr, "vigil-local: moto's and the Runtime Interface Emulator's output: %s\n", invokeLogPath)
		s, err := localrun.Start(ctx, localrun.Options{Dir: dir, Functions: []string{args[1]}, Bridge: demobridge.New(demobridge.Options{}), Log: emulators, FunctionLog: os.Stderr})
		if err != nil {
			return fmt.Errorf("%w (see %s)", err, invokeLogPath)
		}
		defer s.Stop()
		out, err := s.Invoke(ctx, "vigil-"+args[1], event)
		if err != nil {
			return fmt.Errorf("%w (see %s)", err, invokeLogPath)
		}
		fmt.Println(string(out))
		return nil
	}
	return fmt.Errorf("unknown command %q (want run, status, invoke, alarms, compile, setup or bridge)", args[0])
}

// setup makes, on an emulator the user started, the resources
// events/env.json names, for `sam local invoke --env-vars events/env.json`.
func setup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	endpoint := fs.String("endpoint", localrun.DefaultEndpoint, "the emulator, as this machine reaches it")
	bridgeAddr := fs.String("bridge", localrun.ContainerBridge, "the demo bridge, as the functions reach it (replaces 127.0.0.1:8765 in the document)")
	file := fs.String("config", "", "the document (default config/vigil.yaml)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := localrun.Setup(ctx, localrun.SetupOptions{Endpoint: *endpoint, Bridge: *bridgeAddr, ConfigFile: *file})
	if err != nil {
		return err
	}
	fmt.Printf("On %s, as %s names them:\n", *endpoint, localrun.SAMEnvFile)
	fmt.Printf("  table             %s\n  warning topic     %s\n  critical topic    %s\n  recovery machine  %s\n  config parameter  %s (the document, its bridge at %s)\n",
		r.Table, r.WarningTopicARN, r.CriticalTopicARN, r.StateMachineARN, localrun.ConfigParameter, *bridgeAddr)
	return nil
}

// compile validates a document and writes it compiled (config.Compile):
// what `sam build` bundles beside each bootstrap. A refused document
// writes nothing and lists every problem.
func compile(args []string) error {
	fs := flag.NewFlagSet("compile", flag.ContinueOnError)
	out := fs.String("o", "-", "where to write the compiled document (- for standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, doc, err := loadDocument(fs)
	if err != nil {
		return err
	}
	compiled, err := config.Compile(doc)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err = os.Stdout.Write(compiled)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(*out, compiled, 0o644)
}

// loadDocument loads the document named by the subcommand's argument, the
// sample when there is none.
func loadDocument(fs *flag.FlagSet) (string, *config.Document, error) {
	file := "config/vigil.yaml"
	if fs.NArg() > 0 {
		file = fs.Arg(0)
	}
	doc, err := config.LoadFile(file)
	return file, doc, err
}

// bridge serves the demo bridge until interrupted.
func bridge(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	addr := fs.String("addr", "0.0.0.0:8765", "listen address (all interfaces, so a function in a container reaches it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return localrun.ServeBridge(ctx, *addr, func(a net.Addr) {
		fmt.Fprintf(os.Stderr, "vigil-local: demo bridge on %s (health, metrics, WebSocket, fault switch); Ctrl-C stops it\n", a)
	})
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
	file, doc, err := loadDocument(fs)
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

// createFile creates path, and its directory if need be.
func createFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.Create(path)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
