package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/cli"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/syncrun"
)

func init() { register(syncCommand) }

// syncModes are the values of sync --mode.
var syncModes = syncrun.Modes

func syncCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sync --mode MODE [--wait] [--timeout D]",
		Short: "start a sync of every company (" + strings.Join(syncModes, ", ") + ")",
		Long: `Sync starts a sync of every company and prints its job id on stdout, or,
with --wait, draws its progress on stderr and exits 0 only if it succeeded.
A worker must be running to do the work.`,
	}
	mode := cmd.Flags().String("mode", "", "one of "+strings.Join(syncModes, ", ")+" (required)")
	wait := cmd.Flags().Bool("wait", false, "wait until the run ends; exit 0 only if it succeeded")
	timeout := cmd.Flags().Duration("timeout", 2*time.Hour, "give up waiting after this long")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		m, ok := syncrun.ParseMode(*mode)
		if !ok {
			return cli.Usagef("--mode must be one of %s", strings.Join(syncModes, ", "))
		}
		return app.Command(cmd.Context(), func(ctx context.Context, d *app.App) error {
			job, err := d.Sync.Start(ctx, m, jobs.Tenant{Admin: true}, "cli")
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "sync %s enqueued: job %s\n", *mode, job.ID)
			if !*wait {
				fmt.Println(job.ID)
				return nil
			}
			final, err := waitSucceeded(ctx, d.Jobs, job.ID, *timeout)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "sync %s succeeded in %s: %s\n", job.ID, elapsed(final), final.Result)
			return nil
		})
	}
	return cmd
}
