package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/auth"
)

// TestFromOutside runs, against the real api and worker binaries, what
// checks the system from outside the test suite:
//   - the isolation probe (deploy/local/isolation): company COMP001's key,
//     aimed at COMP002's export, campaign, segment search and refresh
//     through every route of api/openapi.yaml, gets 404 (or 403 for a
//     scope it lacks; with a key of every scope, 404 only) and never
//     COMP002's data; the probe exits 0;
//   - the README's export walkthrough, as written (curl and jq in bash):
//     it leaves the export's file under its own name, with the checksum
//     the API stored and the rows of the export;
//   - the README's campaign walkthrough, as written: the campaign freezes,
//     its treatment is exported, the events of a contacted customer are
//     taken (one suppression) and the report has both groups.
func TestFromOutside(t *testing.T) {
	b := setup(t, 2000, nil)
	b.syncWithWorker(t)
	base := start(t, b.cfg, "api").URL()
	ctx := context.Background()
	keyOf := func(company string, scopes ...auth.Scope) string {
		_, secret, err := b.deps.Keys.Create(ctx, auth.NewKey{Name: "probe-" + company, CompanyID: company, Scopes: scopes})
		require.NoError(t, err)
		return secret
	}
	key := func(company string) string {
		return keyOf(company, auth.ScopeSearch, auth.ScopeExport, auth.ScopeSync)
	}

	t.Run("isolation probe", func(t *testing.T) {
		cmd := exec.Command("go", "run", "../../deploy/local/isolation", "--spec", "../../api/openapi.yaml",
			"--api", base, "--key-a", key("COMP001"), "--key-a-all", keyOf("COMP001", auth.AllScopes...), "--key-b", key("COMP002"))
		out, err := cmd.CombinedOutput()
		keepOutput(t, "isolation", out)
		t.Logf("%s", out)
		require.NoError(t, err, "the probe found a breach or could not run")
		require.Contains(t, string(out), "none reached company COMP002's data")
	})

	// walkthrough runs the README's sh block between the markers of name,
	// with a key of COMP001 and this API, in dir; it returns the output.
	walkthrough := func(t *testing.T, name, dir string) []byte {
		readme, err := os.ReadFile("../../README.md")
		require.NoError(t, err)
		m := regexp.MustCompile("(?s)<!-- walkthrough:" + name + "[^>]*-->\n```sh\n(.*?)```\n<!-- /walkthrough:" + name + " -->").FindSubmatch(readme)
		require.NotNil(t, m, "the README has the %s walkthrough between its markers", name)
		script := string(m[1])
		require.Contains(t, script, "KEY=rk_...")
		script = strings.Replace(script, "KEY=rk_...", "KEY="+keyOf("COMP001", auth.ScopeSearch, auth.ScopeExport), 1)
		script = regexp.MustCompile(`(?m)^API=http://localhost:8080`).ReplaceAllString(script, "API="+base)
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		keepOutput(t, "walkthrough-"+name, out)
		require.NoError(t, err, "%s", out)
		return out
	}

	t.Run("README export walkthrough", func(t *testing.T) {
		dir := t.TempDir()
		walkthrough(t, "export", dir)
		files, err := filepath.Glob(filepath.Join(dir, "*"))
		require.NoError(t, err)
		require.Len(t, files, 1, "curl -OJ wrote one file")
		gz, err := os.ReadFile(files[0])
		require.NoError(t, err)
		var id, name, sum string
		var rows int
		require.NoError(t, b.deps.DB.QueryRow(ctx, `SELECT job_id, file_name, sha256, rows FROM exports
			ORDER BY created_at DESC LIMIT 1`).Scan(&id, &name, &sum, &rows))
		require.Equal(t, name, filepath.Base(files[0]), "saved under the server's name")
		got := sha256.Sum256(gz)
		require.Equal(t, sum, hex.EncodeToString(got[:]))
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		require.NoError(t, err)
		raw, err := io.ReadAll(zr)
		require.NoError(t, err)
		records, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		require.NoError(t, err)
		require.Equal(t, "customerId", records[0][0])
		require.Positive(t, rows, "the demo has quiet customers in San José")
		require.Len(t, records, rows+1, "header and every row of export %s", id)
	})

	t.Run("README campaign walkthrough", func(t *testing.T) {
		out := json.NewDecoder(bytes.NewReader(walkthrough(t, "campaign", t.TempDir())))
		var events struct{ Accepted, Suppressed, Rejected int }
		require.NoError(t, out.Decode(&events), "step 4 answers the import")
		require.Equal(t, 2, events.Accepted, "a delivered and an unsubscribed event of a contacted customer")
		require.Equal(t, 1, events.Suppressed)
		require.Zero(t, events.Rejected)
		var report struct {
			CampaignID string         `json:"campaignId"`
			Groups     map[string]any `json:"groups"`
		}
		require.NoError(t, out.Decode(&report), "step 5 answers the report")
		require.NotEmpty(t, report.CampaignID)
		require.Contains(t, report.Groups, "treatment")
		require.Contains(t, report.Groups, "holdout")
	})
}
