// Command reactivation is the admin CLI: migrate, demo seed, apikey, sync,
// bench, and run (API, worker and scheduler in one process).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]command{
	"migrate": {"apply the service schema (--demo-schema also creates the source tables)", migrateCommand},
	"demo":    {"demo seed --customers N --seed S [--companies K] [--truncate]: generate demo source data", demoCommand},
	"apikey":  {"apikey create|list|revoke: manage API keys", apikeyCommand},
	"sync":    {"sync --mode full|incremental [--wait]: run a sync", syncCommand},
	"run":     {"run API, worker and scheduler in one process", runCommand},
	"bench":   {"bench --scenario NAME --customers N [--out FILE]: measure against baselines", benchCommand},
}

// usageError is printed with the usage and exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		return 2
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "reactivation: unknown command %q (run reactivation help)\n", args[0])
		return 2
	}
	if err := cmd.run(ctx, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "reactivation %s: %s\n", args[0], ue.msg)
			return 2
		}
		fmt.Fprintf(os.Stderr, "reactivation %s: %s\n", args[0], oneLine(err.Error()))
		return 1
	}
	return 0
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: reactivation COMMAND [flags]")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].summary)
	}
}

// newFlags returns a flag set whose errors come back as usage errors, not
// as a second copy of the usage text.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

// parseFlags parses args and rejects stray positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(discard{})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.Usage()
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
