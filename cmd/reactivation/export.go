package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/cli"
	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/segment"
)

func init() { register(exportCommand) }

func exportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "create and download segment exports (CSV or NDJSON, gzipped)",
		Long: `Export creates exports of a segment and downloads their files, through the
same services as POST /api/v1/exports and its download: the file is the
gzip the API serves, checked against its SHA-256.`,
	}
	cmd.AddCommand(exportCreateCommand(), exportDownloadCommand())
	return cmd
}

func exportCreateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create --filter JSON|@FILE [--company ID] [--format csv|ndjson] [--wait] [-o FILE]",
		Short: "start an export of the customers matching a filter",
		Long: `Create starts an export of the customers matching --filter (the segment
filter of the API: {"city":"San José","minDaysSinceLastPurchase":90};
@FILE reads it from a file, @- from stdin) and prints its job id on stdout.
The filter names its company (companyId) or --company does. With --wait it
draws the progress and exits 0 only if the export succeeded; -o FILE also
downloads the file (implies --wait; "-" writes it to stdout).`,
		Example: `  reactivation export create --company COMP001 --filter '{"gender":"mujer","minDaysSinceLastPurchase":90}' -o lapsed.csv.gz
  reactivation export create --filter @segment.json --format ndjson --wait`,
	}
	filter := cmd.Flags().String("filter", "", "segment filter as JSON, or @FILE (required; '{}' is every customer of the company)")
	company := cmd.Flags().String("company", "", "company id, when the filter has no companyId")
	format := cmd.Flags().String("format", export.FormatCSV, "csv or ndjson")
	fields := cmd.Flags().StringSlice("fields", nil, "profile fields in column order (default: the export's default columns)")
	bom := cmd.Flags().Bool("excel-bom", false, "start a CSV file with a UTF-8 byte order mark for Excel")
	wait := cmd.Flags().Bool("wait", false, "wait until the export ends; exit 0 only if it succeeded")
	out := cmd.Flags().StringP("output", "o", "", "download the file here once written (implies --wait; - for stdout)")
	timeout := cmd.Flags().Duration("timeout", time.Hour, "give up waiting after this long")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		f, err := exportFilter(*filter, *company)
		if err != nil {
			return err
		}
		o, err := export.Options{Format: *format, Fields: *fields, ExcelBOM: *bom}.Normalize()
		if err != nil {
			return cli.Usagef("%s", flagNames(err))
		}
		return app.Command(cmd.Context(), func(ctx context.Context, d *app.App) error {
			svc := d.Exports
			job, err := svc.Start(ctx, f, o, "cli")
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "export enqueued: job %s\n", job.ID)
			if !*wait && *out == "" {
				fmt.Println(job.ID)
				return nil
			}
			final, err := waitSucceeded(ctx, d.Jobs, job.ID, *timeout)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "export %s succeeded in %s: %d rows\n", job.ID, elapsed(final), final.Progress.Done)
			if *out == "" {
				fmt.Println(job.ID)
				return nil
			}
			return downloadExport(ctx, svc, job.ID, *out)
		})
	}
	return cmd
}

// exportFilter reads --filter (JSON or @FILE) with the API's decoder, so
// a bad filter names its field as a 400 would, and pins it to --company.
func exportFilter(value, company string) (segment.Filter, error) {
	if value == "" {
		return segment.Filter{}, cli.Usagef("--filter is required ('{}' for every customer of --company)")
	}
	raw := []byte(value)
	if name, ok := strings.CutPrefix(value, "@"); ok {
		var err error
		if name == "-" {
			raw, err = io.ReadAll(os.Stdin)
		} else {
			raw, err = os.ReadFile(name)
		}
		if err != nil {
			return segment.Filter{}, cli.Usagef("--filter: %v", err)
		}
	}
	f, err := segment.Decode(raw)
	if err != nil {
		return segment.Filter{}, cli.Usagef("--filter: %v", err)
	}
	switch {
	case company != "" && f.CompanyID != nil && *f.CompanyID != company:
		return segment.Filter{}, cli.Usagef("--company %s and the filter's companyId %s differ", company, *f.CompanyID)
	case company != "":
		f.PinCompany(company)
	case f.CompanyID == nil:
		return segment.Filter{}, cli.Usagef("--company is required when the filter has no companyId")
	}
	return f, nil
}

// flagNames renames the fields of an options error to the flags that set
// them ("format" -> "--format").
func flagNames(err error) string {
	var verr *segment.ValidationError
	if !errors.As(err, &verr) {
		return err.Error()
	}
	flags := map[string]string{"format": "--format", "excelBom": "--excel-bom"}
	parts := make([]string, len(verr.Errors))
	for i, fe := range verr.Errors {
		name := flags[fe.Field]
		if name == "" {
			name = "--fields " + strings.TrimPrefix(fe.Field, "fields")
		}
		parts[i] = strings.TrimSpace(name) + ": " + fe.Message
	}
	return strings.Join(parts, "; ")
}

func exportDownloadCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "download ID [-o FILE]",
		Short: "download a succeeded export's gzip file",
		Long: `Download writes a succeeded export's file, the gzip the API serves, to -o
FILE ("-" for stdout), or to its own name (customers-COMP001-...csv.gz) in
the current directory, and prints the path on stdout. The SHA-256 is
checked; a partial file is never left under the final name.`,
		Args: cobra.ExactArgs(1),
	}
	out := cmd.Flags().StringP("output", "o", "", "file to write (default: the export's file name; - for stdout)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return app.Command(cmd.Context(), func(ctx context.Context, d *app.App) error {
			return downloadExport(ctx, d.Exports, args[0], *out)
		})
	}
	return cmd
}

// downloadExport writes export id's file to out (its own name when empty,
// stdout for "-"), checking its checksum, and prints the path written.
func downloadExport(ctx context.Context, svc *export.Service, id, out string) error {
	f, err := svc.Open(ctx, jobs.Tenant{Admin: true}, id)
	if err != nil {
		return err
	}
	if out == "-" {
		return copyChecked(ctx, f, os.Stdout)
	}
	if out == "" {
		out = f.FileName
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".part-*")
	if err != nil {
		return fmt.Errorf("download export %s: %w", id, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	err = copyChecked(ctx, f, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		return fmt.Errorf("download export %s: %w", id, err)
	}
	fmt.Fprintf(os.Stderr, "export %s: %d bytes written to %s\n", id, f.SizeBytes, out)
	fmt.Println(out)
	return nil
}

// copyChecked copies the file to w, drawing the bytes written, and fails
// unless its SHA-256 is the stored one.
func copyChecked(ctx context.Context, f export.File, w io.Writer) error {
	sum := sha256.New()
	pw, done := byteProgress(io.MultiWriter(w, sum), f.SizeBytes, "download")
	_, err := f.WriteTo(ctx, pw)
	done()
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("export %s: checksum %s, want %s", f.ID, got, f.SHA256)
	}
	return nil
}
