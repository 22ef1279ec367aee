package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/cli"
	"github.com/reactivation/reactivation/internal/jobs"
)

func init() { register(jobsCommand) }

func jobsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "list, show, follow and cancel jobs (syncs, exports, segment searches)",
		Long: `Jobs reads the job rows every asynchronous operation keeps in PostgreSQL,
as GET /api/v1/jobs does for an admin key, and cancels them as DELETE does.`,
	}
	cmd.AddCommand(jobsListCommand(), jobsGetCommand(), jobsCancelCommand())
	return cmd
}

func jobsListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [--type T] [--state S] [--company ID] [--limit N] [--cursor ID]",
		Short: "list jobs, newest first, as a table",
		Long: `List prints a page of jobs, newest first. When the page is full, the
--cursor of the next page is printed on stderr.`,
	}
	typ := cmd.Flags().String("type", "", "only jobs of this type: "+strings.Join(jobs.Types, ", "))
	state := cmd.Flags().String("state", "", "only jobs in this state: queued, running, succeeded, failed, canceled")
	company := cmd.Flags().String("company", "", "only jobs of this company")
	limit := cmd.Flags().Int("limit", 50, "jobs per page, 1 to 100")
	cursor := cmd.Flags().String("cursor", "", "the id the previous page printed as next cursor")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		o := jobs.ListOptions{Type: *typ, State: jobs.State(*state), Limit: *limit, After: *cursor}
		switch {
		case o.Type != "" && !slices.Contains(jobs.Types, o.Type):
			return cli.Usagef("--type must be one of %s", strings.Join(jobs.Types, ", "))
		case o.State != "" && !slices.Contains([]jobs.State{jobs.Queued, jobs.Running, jobs.Succeeded, jobs.Failed, jobs.Canceled}, o.State):
			return cli.Usagef("--state must be queued, running, succeeded, failed or canceled")
		case o.Limit < 1 || o.Limit > 100:
			return cli.Usagef("--limit must be between 1 and 100, got %d", o.Limit)
		}
		t := jobs.Tenant{Admin: true}
		if *company != "" {
			t = jobs.Tenant{CompanyID: *company}
		}
		return app.Command(cmd.Context(), func(ctx context.Context, d *app.App) error {
			list, err := d.Jobs.List(ctx, t, o)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tCOMPANY\tSTATE\tPROGRESS\tCREATED\tERROR")
			for _, j := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Type, j.CompanyID, j.State, progressText(j.Progress),
					j.CreatedAt.In(d.Config.Location).Format(time.DateTime), j.Error)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(list) == o.Limit {
				fmt.Fprintf(os.Stderr, "next page: --cursor %s\n", list[len(list)-1].ID)
			}
			return nil
		})
	}
	return cmd
}

// progressText is "done/total (pct%)", or "-" before the total is known.
func progressText(p jobs.Progress) string {
	if p.Total <= 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d (%.0f%%)", p.Done, p.Total, 100*float64(p.Done)/float64(p.Total))
}

func jobsGetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get ID [--wait]",
		Short: "print a job as JSON; --wait follows its progress to the end",
		Long: `Get prints the job as the API shows it (JSON on stdout). With --wait it first
draws the progress until the job ends, and exits 0 only if it succeeded.`,
		Args: cobra.ExactArgs(1),
	}
	wait := cmd.Flags().Bool("wait", false, "wait until the job ends; exit 0 only if it succeeded")
	timeout := cmd.Flags().Duration("timeout", 2*time.Hour, "give up waiting after this long")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return app.Command(cmd.Context(), func(ctx context.Context, d *app.App) error {
			j, err := d.Jobs.Get(ctx, jobs.Tenant{Admin: true}, args[0])
			if err != nil {
				return err
			}
			if *wait {
				final, werr := waitSucceeded(ctx, d.Jobs, j.ID, *timeout)
				if final.ID != "" {
					j = final
				}
				if err := printJSON(j); err != nil {
					return err
				}
				return werr
			}
			return printJSON(j)
		})
	}
	return cmd
}

func jobsCancelCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "cancel a queued or running job and print it",
		Long: `Cancel marks the job canceled (its workers stop before their next page or
shard), deletes its queued tasks and prints the canceled job as JSON. A job
that already ended is an error.`,
		Args: cobra.ExactArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return app.Command(cmd.Context(), func(ctx context.Context, d *app.App) error {
			j, err := d.Dispatcher.Cancel(ctx, jobs.Tenant{Admin: true}, args[0], "canceled by the command line")
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "job %s canceled\n", j.ID)
			return printJSON(j)
		})
	}
	return cmd
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
