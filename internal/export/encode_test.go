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
		enc, err := export.NewEncoder(&nd, export.FormatNDJSON, []string{"name", "customerId"}, false)
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
		enc, err = export.NewEncoder(&out, export.FormatCSV, []string{"name", "customerId"}, false)
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
