package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/testenv"
)

// probe GETs url and returns the status and body.
func probe(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

// waitStatus polls url until it answers want.
func waitStatus(t *testing.T, url string, want int, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body := probe(t, url)
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s answered %d %s, not %d, for %s", url, code, body, want, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestWorkerProbesFollowRedis runs a real worker process whose Redis goes
// through a proxy the test cuts: /healthz and /readyz on its metrics port
// answer 200 while asynq's health check reaches Redis, 503 (without the
// driver's error text) while it does not, and 200 again once it is back;
// /metrics carries reactivation_build_info.
func TestWorkerProbesFollowRedis(t *testing.T) {
	b := setup(t, 0, nil)
	proxy := testenv.NewProxy(t, b.cfg.RedisURL)
	u, err := url.Parse(b.cfg.RedisURL)
	require.NoError(t, err)
	wcfg := b.cfg
	wcfg.RedisURL = proxy.URL() + u.Path

	w := start(t, wcfg, "worker")
	base := w.URL()
	waitStatus(t, base+"/healthz", http.StatusOK, 5*time.Second)
	waitStatus(t, base+"/readyz", http.StatusOK, 5*time.Second)
	_, metrics := probe(t, base+"/metrics")
	require.Contains(t, metrics, "reactivation_build_info{")

	proxy.Cut()
	// asynq pings every 5 s; one failed ping flips both probes.
	body := waitStatus(t, base+"/healthz", http.StatusServiceUnavailable, 20*time.Second)
	require.Contains(t, body, "redis unreachable")
	require.NotContains(t, body, proxy.URL()[len("redis://"):], "the probe must not show addresses")
	code, _ := probe(t, base+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)

	proxy.Restore()
	waitStatus(t, base+"/healthz", http.StatusOK, 20*time.Second)
	waitStatus(t, base+"/readyz", http.StatusOK, 5*time.Second)
}

// TestSchedulerServesMetricsAndHealth runs a real scheduler process: its
// SCHEDULER_METRICS_ADDR serves /healthz (the loop ticks) and /metrics
// with reactivation_build_info.
func TestSchedulerServesMetricsAndHealth(t *testing.T) {
	b := setup(t, 0, nil)
	s := start(t, b.cfg, "scheduler")
	base := s.URL()
	waitStatus(t, base+"/healthz", http.StatusOK, 5*time.Second)
	_, metrics := probe(t, base+"/metrics")
	require.True(t, strings.Contains(metrics, `reactivation_build_info{goversion="go`), "build info with the Go version:\n%s", metrics)
}

// TestProfileDirHoldsEachProcessProfiles: with PROFILE_DIR, a scheduler
// writes a CPU profile of its run and an allocation profile when it
// stops, both gzipped pprof protobufs named after the process and pid.
func TestProfileDirHoldsEachProcessProfiles(t *testing.T) {
	b := setup(t, 0, nil)
	cfg := b.cfg
	cfg.ProfileDir = t.TempDir()
	s := start(t, cfg, "scheduler")
	waitStatus(t, s.URL()+"/healthz", http.StatusOK, 5*time.Second)
	pid := s.Pid()
	s.Stop()
	for _, kind := range []string{"cpu", "heap"} {
		body, err := os.ReadFile(filepath.Join(cfg.ProfileDir, fmt.Sprintf("scheduler-%d.%s.prof", pid, kind)))
		require.NoError(t, err, "the %s profile", kind)
		require.Greater(t, len(body), 2)
		require.Equal(t, []byte{0x1f, 0x8b}, body[:2], "a gzipped pprof profile")
	}
}

// TestMigrateWaitHoldsUntilTheSchemaIsApplied runs the init containers'
// command, `reactivation migrate --wait`, on a schema nobody migrated: it
// fails when its wait ends, naming the missing migrations; once
// `reactivation migrate` ran, it succeeds at once.
func TestMigrateWaitHoldsUntilTheSchemaIsApplied(t *testing.T) {
	cfg := testenv.Config(t)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(binDir, "reactivation"), args...)
		cmd.Env = environ(cfg)
		out, err := cmd.CombinedOutput()
		keepOutput(t, "reactivation", out)
		return string(out), err
	}
	out, err := run("migrate", "--wait", "1s")
	require.Error(t, err, out)
	require.Contains(t, out, "not applied yet")
	out, err = run("migrate")
	require.NoError(t, err, out)
	out, err = run("migrate", "--wait", "10s")
	require.NoError(t, err, out)
	require.Contains(t, out, "schema is up to date")
}
