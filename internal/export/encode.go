package export

import (
	"bufio"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reactivation/reactivation/internal/profile"
)

// Formats of an export file.
const (
	FormatCSV    = "csv"
	FormatNDJSON = "ndjson"
)

// DefaultFields are the columns of an export that names none, in order:
// customerId, companyId, name, email, phone, gender, city, lastPurchaseAt,
// totalPurchases, totalSpent, averageTicket, favoriteProducts,
// favoriteIngredients.
var DefaultFields = []string{
	"customerId", "companyId", "name", "email", "phone", "gender", "city", "lastPurchaseAt",
	"totalPurchases", "totalSpent", "averageTicket", "favoriteProducts", "favoriteIngredients",
}

// ListSeparator joins list values (favourite products...) in a CSV cell.
const ListSeparator = "; "

// utf8BOM lets Excel recognise a CSV file as UTF-8.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// column renders one profile field: as CSV text and as a JSON value.
type column struct {
	text       func(p *profile.Profile) string
	appendJSON func(dst []byte, p *profile.Profile) []byte
}

// newColumn builds a column from a getter and the two renderings of its type.
func newColumn[T any](get func(*profile.Profile) T, text func(T) string, appendJSON func([]byte, T) []byte) column {
	return column{
		text:       func(p *profile.Profile) string { return text(get(p)) },
		appendJSON: func(dst []byte, p *profile.Profile) []byte { return appendJSON(dst, get(p)) },
	}
}

func textColumn(get func(*profile.Profile) string) column {
	return newColumn(get, func(s string) string { return s }, appendJSONString)
}

func intColumn(get func(*profile.Profile) int64) column {
	return newColumn(get, func(v int64) string { return strconv.FormatInt(v, 10) },
		func(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) })
}

func centsColumn(get func(*profile.Profile) profile.Cents) column {
	return newColumn(get, profile.Cents.String, func(dst []byte, c profile.Cents) []byte { return c.Append(dst) })
}

func boolColumn(get func(*profile.Profile) bool) column {
	return newColumn(get, strconv.FormatBool, strconv.AppendBool)
}

// timeColumn renders an instant in UTC as RFC 3339 (no fraction when whole
// seconds): empty in CSV and null in JSON when absent.
func timeColumn(get func(*profile.Profile) *time.Time) column {
	text := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return newColumn(get, text, func(dst []byte, t *time.Time) []byte {
		if t == nil {
			return append(dst, "null"...)
		}
		return appendJSONString(dst, text(t))
	})
}

// listColumn joins a list with ListSeparator in CSV; in JSON it is an array.
func listColumn(get func(*profile.Profile) []string) column {
	return newColumn(get, func(l []string) string { return strings.Join(l, ListSeparator) }, func(dst []byte, l []string) []byte {
		dst = append(dst, '[')
		for i, s := range l {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, s)
		}
		return append(dst, ']')
	})
}

// columns are the exportable fields: every field of the profile's JSON.
var columns = map[string]column{
	"customerId":          textColumn(func(p *profile.Profile) string { return p.CustomerID }),
	"companyId":           textColumn(func(p *profile.Profile) string { return p.CompanyID }),
	"name":                textColumn(func(p *profile.Profile) string { return p.Name }),
	"email":               textColumn(func(p *profile.Profile) string { return p.Email }),
	"phone":               textColumn(func(p *profile.Profile) string { return p.Phone }),
	"gender":              textColumn(func(p *profile.Profile) string { return p.Gender }),
	"genderRaw":           textColumn(func(p *profile.Profile) string { return p.GenderRaw }),
	"city":                textColumn(func(p *profile.Profile) string { return p.City }),
	"createdAt":           timeColumn(func(p *profile.Profile) *time.Time { return p.CreatedAt }),
	"updatedAt":           timeColumn(func(p *profile.Profile) *time.Time { return p.UpdatedAt }),
	"firstPurchaseAt":     timeColumn(func(p *profile.Profile) *time.Time { return p.FirstPurchaseAt }),
	"lastPurchaseAt":      timeColumn(func(p *profile.Profile) *time.Time { return p.LastPurchaseAt }),
	"totalPurchases":      intColumn(func(p *profile.Profile) int64 { return p.TotalPurchases }),
	"totalSpent":          centsColumn(func(p *profile.Profile) profile.Cents { return p.TotalSpent }),
	"averageTicket":       centsColumn(func(p *profile.Profile) profile.Cents { return p.AverageTicket }),
	"products":            listColumn(func(p *profile.Profile) []string { return p.Products }),
	"favoriteProducts":    listColumn(func(p *profile.Profile) []string { return p.FavoriteProducts }),
	"ingredients":         listColumn(func(p *profile.Profile) []string { return p.Ingredients }),
	"favoriteIngredients": listColumn(func(p *profile.Profile) []string { return p.FavoriteIngredients }),
	"hasEmail":            boolColumn(func(p *profile.Profile) bool { return p.HasEmail }),
	"hasPhone":            boolColumn(func(p *profile.Profile) bool { return p.HasPhone }),
}

// Encoder writes profiles as rows of an export file. It buffers: Close
// flushes what is left.
type Encoder interface {
	// Encode writes one row per profile.
	Encode(ps []profile.Profile) error
	// Close flushes buffered rows; it does not close the underlying writer.
	Close() error
}

// CSVOptions tune a CSV file; NDJSON ignores them.
type CSVOptions struct {
	// BOM starts the file with a UTF-8 byte order mark (for Excel).
	BOM bool
	// FormulaEscape prefixes with a single quote every cell a spreadsheet
	// would run as a formula (see neutralizeFormula); false writes values
	// as they are, for programs that read the file.
	FormulaEscape bool
}

// NewEncoder returns an encoder of format writing the given fields (known
// names, see Options.Validate) to w. A CSV file starts with its header row,
// after a UTF-8 byte order mark when o.BOM is true.
func NewEncoder(w io.Writer, format string, fields []string, o CSVOptions) (Encoder, error) {
	cols := make([]column, len(fields))
	for i, f := range fields {
		cols[i] = columns[f]
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if format == FormatNDJSON {
		return &ndjsonEncoder{w: bw, cols: cols, names: fields}, nil
	}
	if o.BOM {
		if _, err := bw.Write(utf8BOM); err != nil {
			return nil, err
		}
	}
	e := &csvEncoder{w: bw, csv: csv.NewWriter(bw), cols: cols, record: make([]string, len(cols)), escape: o.FormulaEscape}
	e.csv.UseCRLF = true
	if err := e.csv.Write(fields); err != nil {
		return nil, err
	}
	return e, nil
}

// csvEncoder writes RFC 4180 CSV: fields with commas, quotes or line
// breaks are quoted, quotes doubled; lines end with CRLF (so does a line
// break inside a quoted field, which CSV readers give back as "\n").
type csvEncoder struct {
	w      *bufio.Writer
	csv    *csv.Writer
	cols   []column
	record []string
	escape bool
}

func (e *csvEncoder) Encode(ps []profile.Profile) error {
	for i := range ps {
		for j, c := range e.cols {
			e.record[j] = c.text(&ps[i])
			if e.escape {
				e.record[j] = neutralizeFormula(e.record[j])
			}
		}
		if err := e.csv.Write(e.record); err != nil {
			return err
		}
	}
	return nil
}

func (e *csvEncoder) Close() error {
	e.csv.Flush()
	if err := e.csv.Error(); err != nil {
		return err
	}
	return e.w.Flush()
}

// ndjsonEncoder writes one JSON object per line with the chosen fields in
// order.
type ndjsonEncoder struct {
	w     *bufio.Writer
	cols  []column
	names []string
	line  []byte
}

func (e *ndjsonEncoder) Encode(ps []profile.Profile) error {
	for i := range ps {
		line := append(e.line[:0], '{')
		for j, c := range e.cols {
			if j > 0 {
				line = append(line, ',')
			}
			line = appendJSONString(line, e.names[j])
			line = append(line, ':')
			line = c.appendJSON(line, &ps[i])
		}
		line = append(line, '}', '\n')
		if _, err := e.w.Write(line); err != nil {
			return err
		}
		e.line = line
	}
	return nil
}

func (e *ndjsonEncoder) Close() error { return e.w.Flush() }

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, as encoding/json would
// without HTML escaping: invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped for JavaScript readers.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
