package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/profile"
)

// gunzipNDJSON reads a gzipped NDJSON export into profiles by id, failing
// on a customer seen twice.
func gunzipNDJSON(t *testing.T, gz []byte) map[string]profile.Profile {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	require.NoError(t, err)
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	out := map[string]profile.Profile{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var p profile.Profile
		require.NoError(t, json.Unmarshal(sc.Bytes(), &p))
		_, dup := out[p.CustomerID]
		require.False(t, dup, "customer %s twice", p.CustomerID)
		out[p.CustomerID] = p
	}
	require.NoError(t, sc.Err())
	return out
}

// TestCLIExportAndJobs runs the real reactivation binary against 2,000
// demo customers synced by a real worker: `export create --wait -o FILE`
// writes exactly the engine's matches, each equal to the engine's profile;
// `export download ID` reproduces the file byte for byte; `jobs get` and
// `jobs list` show the job; with the worker stopped, `jobs cancel` cancels
// a queued export, a second cancel and `jobs get --wait` of it fail with one
// line; a bad filter names its field and exits 2.
func TestCLIExportAndJobs(t *testing.T) {
	b := setup(t, 2000, nil)
	w := b.syncWithWorker(t)
	env := environ(b.cfg)
	dir := t.TempDir()

	const filter = `{"minDaysSinceLastPurchase":30}`
	file := filepath.Join(dir, "lapsed.ndjson.gz")
	r := runCLI(t, env, "reactivation", "export", "create", "--company", "COMP001", "--filter", filter,
		"--format", "ndjson", "--fields", strings.Join(allFields, ","), "--wait", "-o", file)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, file+"\n", r.stdout, "the path written, on stdout")
	_, id, ok := strings.Cut(strings.SplitN(r.stderr, "\n", 2)[0], "export enqueued: job ")
	require.True(t, ok, r.stderr)

	j, err := b.deps.Jobs.GetAny(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, jobs.Succeeded, j.State)
	want, total := b.engineProfiles(t, `{"companyId":"COMP001","minDaysSinceLastPurchase":30}`, j.CreatedAt)
	require.Greater(t, total, int64(100))
	gz, err := os.ReadFile(file)
	require.NoError(t, err)
	got := gunzipNDJSON(t, gz)
	require.Len(t, got, int(total), "exactly the engine's total")
	for id, p := range got {
		require.Equal(t, comparable(want[id]), comparable(p))
	}

	// download reproduces the file, to a file and to stdout.
	again := filepath.Join(dir, "again.gz")
	r = runCLI(t, env, "reactivation", "export", "download", id, "-o", again)
	require.Equal(t, 0, r.code, r.stderr)
	copyBytes, err := os.ReadFile(again)
	require.NoError(t, err)
	require.Equal(t, gz, copyBytes)
	r = runCLI(t, env, "reactivation", "export", "download", id, "-o", "-")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, gz, []byte(r.stdout))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "no partial file left behind")

	// jobs get and list show it.
	r = runCLI(t, env, "reactivation", "jobs", "get", id)
	require.Equal(t, 0, r.code, r.stderr)
	var shown jobs.Job
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &shown))
	require.Equal(t, id, shown.ID)
	require.Equal(t, jobs.Succeeded, shown.State)
	require.Equal(t, jobs.Progress{Done: total, Total: total}, shown.Progress)
	r = runCLI(t, env, "reactivation", "jobs", "list", "--type", "export", "--company", "COMP001")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, id)
	require.Contains(t, r.stdout, "succeeded")
	r = runCLI(t, env, "reactivation", "jobs", "list", "--company", "COMP002")
	require.Equal(t, 0, r.code, r.stderr)
	require.NotContains(t, r.stdout, id, "another company's list")

	// With no worker, an export stays queued: cancel it.
	require.NoError(t, w.Signal(syscall.SIGTERM))
	<-w.Done()
	r = runCLI(t, env, "reactivation", "export", "create", "--filter", `{"companyId":"COMP002"}`)
	require.Equal(t, 0, r.code, r.stderr)
	queued := strings.TrimSpace(r.stdout)
	r = runCLI(t, env, "reactivation", "jobs", "cancel", queued)
	require.Equal(t, 0, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &shown))
	require.Equal(t, jobs.Canceled, shown.State)
	j, err = b.deps.Jobs.GetAny(t.Context(), queued)
	require.NoError(t, err)
	require.Equal(t, jobs.Canceled, j.State)

	for _, args := range [][]string{{"jobs", "cancel", queued}, {"jobs", "get", queued, "--wait", "--timeout", "10s"},
		{"export", "download", queued}, {"jobs", "get", "5c8e3b7e-0000-4000-8000-000000000000"}} {
		r = runCLI(t, env, "reactivation", args...)
		require.Equal(t, 1, r.code, "%v: %s", args, r.stderr)
		require.Equal(t, 1, strings.Count(r.stderr, "\n"), "%v: one line, got %q", args, r.stderr)
	}
	require.Contains(t, r.stderr, "not found")

	r = runCLI(t, env, "reactivation", "export", "create", "--company", "COMP001", "--filter", `{"minTotalSpent":"lots"}`)
	requireUsageError(t, r, "a bad filter", "minTotalSpent")
}
