package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/campaign"
	"github.com/reactivation/reactivation/internal/cli"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/segment"
)

func init() { register(campaignCommand) }

// admin is the CLI's tenant: the operator sees every company.
var admin = jobs.Tenant{Admin: true}

func campaignCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "campaign create|list|show|report|events",
		Short: "create campaigns, read their reports, import delivery events",
		Long: `Campaign freezes the audience of a segment into treatment and holdout (the
rule is in docs/campaigns.md), shows campaigns and their reports (a table,
or --json), and imports delivery events from an NDJSON or CSV file.`,
	}
	cmd.AddCommand(campaignCreateCommand(), campaignListCommand(), campaignShowCommand(),
		campaignReportCommand(), campaignEventsCommand())
	return cmd
}

// withCampaigns opens the connections and runs fn with the campaign service.
func withCampaigns(cmd *cobra.Command, fn func(ctx context.Context, d *app.App, svc *campaign.Service) error) error {
	return app.Command(cmd.Context(), func(ctx context.Context, d *app.App) error {
		return fn(ctx, d, d.Campaigns)
	})
}

func campaignCreateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create --company ID --name NAME [--filter JSON] [flags]",
		Short: "create a campaign and freeze its audience (prints its id)",
	}
	company := cmd.Flags().String("company", "", "the company (required)")
	name := cmd.Flags().String("name", "", "the campaign's name (required)")
	filter := cmd.Flags().String("filter", "{}", "the segment filter, as JSON")
	holdout := cmd.Flags().Int("holdout", campaign.DefaultHoldoutPercent, "holdout percent, 0-50")
	window := cmd.Flags().Int("window-days", campaign.DefaultWindowDays, "measurement window in days, 1-365")
	sentAt := cmd.Flags().String("sent-at", "", "when the message goes out (RFC 3339); default: when the audience froze")
	cost := cmd.Flags().String("cost", "", "what the campaign cost, such as 150000.00")
	currency := cmd.Flags().String("currency", "", "ISO 4217 code of the cost, such as CRC")
	channel := cmd.Flags().String("channel", campaign.DefaultChannel, "one of "+strings.Join(campaign.Channels, ", "))
	includeSuppressed := cmd.Flags().Bool("include-suppressed", false, "keep suppressed customers in the audience")
	wait := cmd.Flags().Bool("wait", false, "wait until the audience is frozen")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		n, f, err := campaignRequest(*company, *name, *filter, *holdout, *window, *sentAt, *cost, *currency, *channel, *includeSuppressed)
		if err != nil {
			return err
		}
		return withCampaigns(cmd, func(ctx context.Context, d *app.App, svc *campaign.Service) error {
			c, job, err := svc.Create(ctx, n, f, "cli")
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "campaign %s created; freezing its audience: job %s\n", c.ID, job.ID)
			if *wait {
				if _, err := waitSucceeded(ctx, d.Jobs, job.ID, time.Hour); err != nil {
					return err
				}
			}
			fmt.Println(c.ID)
			return nil
		})
	}
	return cmd
}

// campaignRequest turns create's flags into a request; bad values are
// usage errors naming the flag.
func campaignRequest(company, name, filter string, holdout, window int, sentAt, cost, currency, channel string,
	includeSuppressed bool) (campaign.New, segment.Filter, error) {
	if company == "" {
		return campaign.New{}, segment.Filter{}, cli.Usagef("--company is required")
	}
	f, err := segment.Decode([]byte(filter))
	if err != nil {
		return campaign.New{}, segment.Filter{}, cli.Usagef("--filter: %v", err)
	}
	f.PinCompany(company)
	n := campaign.New{Name: name, HoldoutPercent: &holdout, WindowDays: &window, Currency: currency, Channel: channel,
		IncludeSuppressed: includeSuppressed}
	if sentAt != "" {
		t, err := time.Parse(time.RFC3339, sentAt)
		if err != nil {
			return n, f, cli.Usagef("--sent-at must be RFC 3339, such as 2026-10-01T15:00:00Z")
		}
		n.SentAt = &t
	}
	if cost != "" {
		c, err := profile.ParseCents(cost)
		if err != nil {
			return n, f, cli.Usagef("--cost: %v", err)
		}
		n.Cost = &c
	}
	if _, err := n.Validate(); err != nil {
		return n, f, cli.Usagef("%v", err)
	}
	return n, f, nil
}

func campaignListCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "list [--company ID] [--json]", Short: "list campaigns, newest first"}
	company := cmd.Flags().String("company", "", "only this company's")
	asJSON := cmd.Flags().Bool("json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return withCampaigns(cmd, func(ctx context.Context, _ *app.App, svc *campaign.Service) error {
			t := admin
			if *company != "" {
				t = jobs.Tenant{CompanyID: *company}
			}
			list, err := svc.List(ctx, t, campaign.MaxListLimit, "")
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(list)
			}
			printCampaigns(os.Stdout, list)
			return nil
		})
	}
	return cmd
}

func campaignShowCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "show ID [--json]", Short: "show a campaign", Args: cobra.ExactArgs(1)}
	asJSON := cmd.Flags().Bool("json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withCampaigns(cmd, func(ctx context.Context, _ *app.App, svc *campaign.Service) error {
			c, err := svc.Get(ctx, admin, args[0])
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(c)
			}
			printCampaigns(os.Stdout, []campaign.Campaign{c})
			return nil
		})
	}
	return cmd
}

func campaignReportCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "report ID [--json]", Short: "print a campaign's report as a table", Args: cobra.ExactArgs(1)}
	asJSON := cmd.Flags().Bool("json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withCampaigns(cmd, func(ctx context.Context, _ *app.App, svc *campaign.Service) error {
			r, err := svc.Report(ctx, admin, args[0])
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(r)
			}
			printReport(os.Stdout, r)
			return nil
		})
	}
	return cmd
}

func campaignEventsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events ID --file PATH [--format ndjson|csv] [--json]",
		Short: "import delivery events (NDJSON or CSV) into a campaign",
		Args:  cobra.ExactArgs(1),
	}
	file := cmd.Flags().String("file", "", "the events file (required; - for stdin)")
	format := cmd.Flags().String("format", "", "ndjson or csv; default from the file's extension")
	asJSON := cmd.Flags().Bool("json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *file == "" {
			return cli.Usagef("--file is required")
		}
		f := *format
		if f == "" {
			f = campaign.FormatNDJSON
			if strings.EqualFold(filepath.Ext(*file), ".csv") {
				f = campaign.FormatCSV
			}
		}
		if f != campaign.FormatNDJSON && f != campaign.FormatCSV {
			return cli.Usagef("--format must be ndjson or csv")
		}
		in := io.Reader(os.Stdin)
		if *file != "-" {
			fh, err := os.Open(*file)
			if err != nil {
				return err
			}
			defer fh.Close()
			in = fh
		}
		rows, res, err := campaign.ParseEvents(in, f)
		if err != nil {
			return err
		}
		return withCampaigns(cmd, func(ctx context.Context, _ *app.App, svc *campaign.Service) error {
			res, err := svc.ImportEvents(ctx, admin, args[0], rows, res)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(res)
			}
			fmt.Printf("received %d, accepted %d, duplicates %d, suppressed %d, rejected %d\n",
				res.Received, res.Accepted, res.Duplicates, res.Suppressed, res.Rejected)
			for _, r := range res.Rejections {
				fmt.Printf("  line %d: %s\n", r.Line, r.Reason)
			}
			return nil
		})
	}
	return cmd
}

func printCampaigns(w io.Writer, list []campaign.Campaign) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCOMPANY\tNAME\tSTATE\tTREATMENT\tHOLDOUT\tGLOBAL\tSENT\tWINDOW")
	for _, c := range list {
		sent := "-"
		if c.SentAt != nil {
			sent = c.SentAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%dd\n", c.ID, c.CompanyID, c.Name, c.State,
			c.Counts.Treatment, c.Counts.Holdout, c.Counts.GlobalControl, sent, c.WindowDays)
	}
	tw.Flush()
}

// printReport writes the report as a table of groups, then the lift.
func printReport(w io.Writer, r campaign.Report) {
	fmt.Fprintf(w, "%s (%s): window %s to %s, complete %v\n", r.Name, r.CampaignID,
		r.Window.Start.Format(time.RFC3339), r.Window.End.Format(time.RFC3339), r.Window.Complete)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "group\tcustomers\treactivated\trate\torders\trevenue\trevenue/customer\t")
	row := func(name string, g campaign.GroupResult) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.4f\t%d\t%s\t%s\t\n", name, g.Customers, g.Reactivated, g.Rate, g.Orders,
			g.Revenue, g.RevenuePerCustomer)
	}
	row(campaign.Treatment, r.Groups.Treatment)
	row(campaign.Holdout, r.Groups.Holdout)
	if r.Groups.GlobalControl != nil {
		row(campaign.GlobalControl, *r.Groups.GlobalControl)
	}
	tw.Flush()
	num := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatFloat(*v, 'f', 6, 64)
	}
	if r.Lift != nil {
		fmt.Fprintf(w, "lift: absolute %.6f, 95%% interval [%.6f, %.6f], relative %s, p-value %s\n",
			r.Lift.Absolute, r.Lift.CI95[0], r.Lift.CI95[1], num(r.Lift.Relative), num(r.Lift.PValue))
		fmt.Fprintf(w, "incremental: %.2f customers, revenue %s; roi %s\n", r.Incr.Customers, r.Incr.Revenue, num(r.ROI))
	}
	e := r.Events
	fmt.Fprintf(w, "events (%s): delivered %d (%s), opened %d (%s), clicked %d (%s); suppressed %d\n", e.Channel,
		e.Delivered, num(e.DeliveredRate), e.Opened, num(e.OpenRate), e.Clicked, num(e.ClickRate), r.Suppressed)
	for _, warn := range r.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
}
