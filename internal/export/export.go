// Package export writes segments to files marketing teams download: CSV
// (RFC 4180, UTF-8, optional BOM for Excel) or NDJSON, gzipped, streamed
// from the search engine in constant memory into PostgreSQL chunks so any
// API replica can serve them. Files expire after a retention period, and
// every export is written to an audit log.
package export

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/segment"
)

// Options say what an export file holds besides its customers.
type Options struct {
	// Format is FormatCSV or FormatNDJSON; "" means FormatCSV.
	Format string `json:"format"`
	// Fields are profile JSON field names, in column order; nil means
	// DefaultFields.
	Fields []string `json:"fields"`
	// ExcelBOM starts a CSV file with a UTF-8 byte order mark.
	ExcelBOM bool `json:"excelBom"`
	// CSVFormulaEscape neutralises CSV cells a spreadsheet would run as
	// formulas (OWASP "CSV injection"); nil means true. Machine consumers
	// that want the values byte for byte set it to false.
	CSVFormulaEscape *bool `json:"csvFormulaEscape"`
	// IncludeSuppressed keeps customers on the company's suppression list
	// (left out by default); the audit log records it.
	IncludeSuppressed bool `json:"includeSuppressed"`
}

// Normalize fills defaults and validates o. Problems are a
// *segment.ValidationError naming the field.
func (o Options) Normalize() (Options, error) {
	var p []segment.FieldError
	add := func(field, format string, args ...any) {
		p = append(p, segment.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if o.Format == "" {
		o.Format = FormatCSV
	}
	if o.Format != FormatCSV && o.Format != FormatNDJSON {
		add("format", `must be "csv" or "ndjson"`)
	}
	if o.Fields == nil {
		o.Fields = slices.Clone(DefaultFields)
	}
	if len(o.Fields) == 0 {
		add("fields", "must name at least one field")
	}
	seen := map[string]bool{}
	for i, f := range o.Fields {
		switch _, known := columns[f]; {
		case !known:
			add(fmt.Sprintf("fields[%d]", i), "unknown field %q (use profile fields such as customerId, name, email, totalSpent)", f)
		case seen[f]:
			add(fmt.Sprintf("fields[%d]", i), "duplicate field %q", f)
		}
		seen[f] = true
	}
	if o.ExcelBOM && o.Format != FormatCSV {
		add("excelBom", "applies to csv only")
	}
	if o.CSVFormulaEscape == nil {
		escape := o.Format == FormatCSV
		o.CSVFormulaEscape = &escape
	} else if *o.CSVFormulaEscape && o.Format != FormatCSV {
		add("csvFormulaEscape", "applies to csv only")
	}
	if len(p) > 0 {
		return Options{}, &segment.ValidationError{Errors: p}
	}
	return o, nil
}

// Export is the status of an export: its job's state and progress beside
// what the file holds.
type Export struct {
	ID        string          `json:"id"`
	CompanyID string          `json:"companyId"`
	State     jobs.State      `json:"state"`
	Progress  Progress        `json:"progress"`
	Filter    json.RawMessage `json:"filter"`
	Format    string          `json:"format"`
	Fields    []string        `json:"fields"`
	ExcelBOM  bool            `json:"excelBom"`
	// CSVFormulaEscape reports whether formula-like CSV cells were
	// neutralised.
	CSVFormulaEscape bool   `json:"csvFormulaEscape"`
	FileName         string `json:"fileName"`
	// CampaignID and Group name the campaign group an export lists
	// instead of a filter's matches.
	CampaignID        string `json:"campaignId,omitempty"`
	Group             string `json:"group,omitempty"`
	IncludeSuppressed bool   `json:"includeSuppressed"`
	// SizeBytes and SHA256 describe the gzip file, once succeeded.
	SizeBytes  int64      `json:"sizeBytes"`
	SHA256     string     `json:"sha256,omitempty"`
	Error      string     `json:"error,omitempty"`
	CreatedBy  string     `json:"-"`
	CreatedAt  time.Time  `json:"createdAt"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// ExpiresAt is when the file is deleted: the retention period after it
	// was written (after creation while it is being written).
	ExpiresAt time.Time  `json:"expiresAt"`
	ExpiredAt *time.Time `json:"expiredAt,omitempty"`
	DeletedAt *time.Time `json:"deletedAt,omitempty"`
	Expired   bool       `json:"expired"`
	Deleted   bool       `json:"deleted"`
}

// Progress counts rows written out of the segment's size when the export
// started.
type Progress struct {
	Rows  int64 `json:"rows"`
	Total int64 `json:"total"`
}

// Errors of a download.
var (
	// ErrExpired: the file was deleted after the retention period.
	ErrExpired = errs.E(errs.NotFound, "the export has expired and its file was deleted")
	// ErrDeleted: the file was deleted on request.
	ErrDeleted = errs.E(errs.NotFound, "the export was deleted")
)

// unsafeName matches what a file name should not carry from a company id.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// FileName is the download name of an export:
// customers-COMP001-2026-11-26-1a2b3c4d.csv.gz, dated in loc.
func FileName(companyID, jobID, format string, created time.Time, loc *time.Location) string {
	short := jobID
	if len(short) > 8 {
		short = short[:8]
	}
	return fmt.Sprintf("customers-%s-%s-%s.%s.gz", unsafeName.ReplaceAllString(companyID, "_"),
		created.In(loc).Format(time.DateOnly), unsafeName.ReplaceAllString(short, "_"), format)
}
