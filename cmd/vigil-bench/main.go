// Command vigil-bench measures SPEC §9's budgets end to end on the local
// emulator and prints each budget with its measured value and pass/fail.
// A missed budget is reported, not an error: the exit status is non-zero
// only when a measurement could not be made.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-monitor/vigil/internal/bench"
)

func main() {
	sizes := flag.String("sizes", "10,100,1000", "comma-separated component counts")
	ticks := flag.Int("ticks", 3, "ticks per shape; the last is the steady state reported")
	scale := flag.Bool("scale", true, "also check 10,000 components fanned out over shards (the scale: line)")
	flag.Parse()
	o := bench.Options{Ticks: *ticks, Scale: *scale, Progress: func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "vigil-bench: "+format+"\n", args...)
	}}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "vigil-bench: bad size %q\n", s)
			os.Exit(2)
		}
		o.Sizes = append(o.Sizes, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, 12*time.Minute)
	rep, err := bench.Run(ctx, o)
	cancel()
	stop()
	if rep != nil {
		rep.Print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vigil-bench:", err)
		os.Exit(1)
	}
}
