package export_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/profile"
)

// FuzzTextSurvivesBothFormats: any name comes back from NDJSON as
// encoding/json would give it back, and from CSV unchanged (but for
// carriage returns, which CSV readers fold into line ends).
func FuzzTextSurvivesBothFormats(f *testing.F) {
	for _, s := range append(hostileNames, "", "\x00\x1f\x7f", "bad \xff utf8", "\u2028\u2029", `back\slash`, "tab\there", "<html>&") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		p := []profile.Profile{{CustomerID: "C1", Name: name}}

		var nd bytes.Buffer
		enc, err := export.NewEncoder(&nd, export.FormatNDJSON, []string{"name", "customerId"}, export.CSVOptions{})
		require.NoError(t, err)
		require.NoError(t, enc.Encode(p))
		require.NoError(t, enc.Close())
		require.True(t, json.Valid(nd.Bytes()), "%q", nd.String())
		var got, want struct{ Name string }
		require.NoError(t, json.Unmarshal(nd.Bytes(), &got))
		std, _ := json.Marshal(map[string]string{"Name": name})
		require.NoError(t, json.Unmarshal(std, &want))
		require.Equal(t, want.Name, got.Name)

		var out bytes.Buffer
		enc, err = export.NewEncoder(&out, export.FormatCSV, []string{"name", "customerId"}, export.CSVOptions{})
		require.NoError(t, err)
		require.NoError(t, enc.Encode(p))
		require.NoError(t, enc.Close())
		records, err := csv.NewReader(&out).ReadAll()
		require.NoError(t, err)
		require.Len(t, records, 2)
		wantCSV := bytes.ReplaceAll([]byte(name), []byte("\r\n"), []byte("\n"))
		wantCSV = bytes.ReplaceAll(wantCSV, []byte("\r"), nil)
		gotCSV := bytes.ReplaceAll([]byte(records[1][0]), []byte("\r"), nil)
		require.Equal(t, string(wantCSV), string(gotCSV))
		require.Equal(t, "C1", records[1][1])
	})
}

// TestCSVFormulasAreNeutralised: cells a spreadsheet would run as formulas
// get a leading single quote (OWASP), phone numbers stay as they are, and
// the option off writes every value byte for byte; NDJSON is never changed.
func TestCSVFormulasAreNeutralised(t *testing.T) {
	cases := map[string]string{
		`=HYPERLINK("http://evil","x")`: `'=HYPERLINK("http://evil","x")`,
		"+SUM(A1:A9)":                   "'+SUM(A1:A9)",
		"-2+3+cmd|' /C calc'!A0":        "'-2+3+cmd|' /C calc'!A0",
		"@SUM(1,2)":                     "'@SUM(1,2)",
		"\t=1+1":                        "'\t=1+1",
		"\r=1+1":                        "'\r=1+1",
		"+506 8888 0000":                "+506 8888 0000",
		"+1 (555) 010-9999":             "+1 (555) 010-9999",
		"+50688880000":                  "+50688880000",
		"+":                             "'+",
		"+506 call me":                  "'+506 call me",
		"-":                             "'-",
		"María = Pérez":                 "María = Pérez",
		"":                              "",
	}
	for in, want := range cases {
		for _, escape := range []bool{true, false} {
			p := []profile.Profile{{CustomerID: "C1", Name: in, Phone: in}}
			var out bytes.Buffer
			enc, err := export.NewEncoder(&out, export.FormatCSV, []string{"name", "phone", "customerId"}, export.CSVOptions{FormulaEscape: escape})
			require.NoError(t, err)
			require.NoError(t, enc.Encode(p))
			require.NoError(t, enc.Close())
			r := csv.NewReader(&out)
			records, err := r.ReadAll()
			require.NoError(t, err)
			expect := want
			if !escape {
				expect = in
			}
			// The CRLF writer drops a lone carriage return (FuzzTextSurvivesBothFormats).
			expect = string(bytes.ReplaceAll([]byte(expect), []byte("\r"), nil))
			require.Equal(t, expect, records[1][0], "escape=%v %q", escape, in)
			require.Equal(t, expect, records[1][1], "escape=%v %q", escape, in)
			require.Equal(t, "C1", records[1][2])
		}

		var nd bytes.Buffer
		enc, err := export.NewEncoder(&nd, export.FormatNDJSON, []string{"name"}, export.CSVOptions{FormulaEscape: true})
		require.NoError(t, err)
		require.NoError(t, enc.Encode([]profile.Profile{{Name: in}}))
		require.NoError(t, enc.Close())
		var got struct{ Name string }
		require.NoError(t, json.Unmarshal(nd.Bytes(), &got))
		require.Equal(t, in, got.Name, "NDJSON is for programs: never changed")
	}
}
