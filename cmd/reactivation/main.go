// Command reactivation is the admin CLI: migrate, demo seed, apikey, sync,
// export, jobs, bench, and run (API, worker and scheduler in one process).
//
// It talks to the services directly, with the same environment as the
// servers (DATABASE_URL, REDIS_URL, ...), not to the HTTP API: it is the
// operator's tool, run where the servers run (a pod, the compose service,
// the local machine), it needs no API key, and it works while the API is
// down. Company keys and the HTTP API are for everyone else.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/reactivation/reactivation/internal/cli"
)

// commands are the constructors of reactivation's subcommands.
//
// To add a command, write in its own file
//
//	func init() { register(campaignCommand) }
//
//	func campaignCommand() *cobra.Command {
//		cmd := &cobra.Command{Use: "campaign", Short: "..."}
//		cmd.AddCommand(&cobra.Command{Use: "create", RunE: ...})
//		return cmd
//	}
//
// and nothing else: cli.Execute gives every command --help, `help NAME`, a
// usage error (exit 2) for an unknown subcommand or flag or a stray
// argument (declare Args: cobra.ExactArgs(1) where one is wanted), and
// prints a returned error as one line (exit 1). Return cli.Usagef for a bad
// flag value, so that it exits 2 too. A command that needs the connections
// opens them with app.Command.
var commands []func() *cobra.Command

// register adds subcommand constructors; call it from an init function.
func register(c ...func() *cobra.Command) { commands = append(commands, c...) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, rootCommand(), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func rootCommand() *cobra.Command {
	root := cli.NewRoot("reactivation", "the admin command line of Customer Reactivation",
		`It reads the same environment as the api, worker and scheduler binaries
(DATABASE_URL, REDIS_URL, ELASTICSEARCH_URL, ...) and talks to PostgreSQL,
Redis and the search engine directly rather than to the HTTP API: it is
the operator's tool, run beside the servers, it needs no API key and works
while the API is down. Progress goes to stderr, results (ids, files) to
stdout.`)
	for _, c := range commands {
		root.AddCommand(c())
	}
	return root
}
