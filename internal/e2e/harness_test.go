// Package e2e runs the real binaries against the real services: workers as
// separate processes, killed and cut off from the search engine.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/demo"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/procs"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/internal/testenv"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "reactivation-e2e-")
	if err != nil {
		panic(err)
	}
	// The revision is linked in as the Makefile does: a worktree build
	// carries no VCS stamp.
	rev, _ := exec.Command("git", "rev-parse", "HEAD").Output()
	cmd := exec.Command("go", "build", "-ldflags", "-X github.com/reactivation/reactivation/internal/buildinfo.linkedRevision="+strings.TrimSpace(string(rev)),
		"-o", dir+string(filepath.Separator), "../../cmd/...")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the binaries failed:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type testBundle struct {
	cfg  config.Config
	deps *app.App
}

// setup migrates a fresh schema, seeds n demo customers into it and opens
// the dependencies. mutate, when not nil, adjusts the configuration first
// (a smaller shard size, a proxy in front of the engine the test can cut).
func setup(t *testing.T, n int, mutate func(*config.Config)) *testBundle {
	t.Helper()
	ctx := context.Background()
	cfg := testenv.Config(t)
	cfg.SyncShardSize = 1000
	if mutate != nil {
		mutate(&cfg)
	}
	require.NoError(t, cfg.Validate())
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, 4)
	require.NoError(t, err)
	defer pool.Close()
	_, err = postgres.Migrate(ctx, pool)
	require.NoError(t, err)
	require.NoError(t, source.CreateSchema(ctx, pool))
	if n > 0 {
		y, m, d := time.Now().In(cfg.Location).Date()
		_, err = demo.Seed(ctx, pool, demo.Options{Customers: n, Seed: 7, AsOf: time.Date(y, m, d, 0, 0, 0, 0, cfg.Location)})
		require.NoError(t, err)
	}
	deps, err := app.Open(ctx, cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(deps.Close)
	return &testBundle{cfg: cfg, deps: deps}
}

// childEnv is what every child process of these tests runs with, over
// its configuration's environment.
var childEnv = []string{"WORKER_CONCURRENCY=2", "SHUTDOWN_TIMEOUT=5s", "LOG_LEVEL=info"}

// environ renders cfg as the environment of a child process (the CLI's).
func environ(cfg config.Config) []string {
	return append(append(os.Environ(), cfg.Environ()...), childEnv...)
}

// process is a running server binary whose log lines the test can wait
// for.
type process struct {
	*procs.Process
	mu    sync.Mutex
	lines []string
}

// start runs binary (api, worker, scheduler) with cfg's environment until
// the test ends, and returns once it is ready (procs.Start: its health
// endpoint answers).
func start(t *testing.T, cfg config.Config, binary string, args ...string) *process {
	t.Helper()
	stdout, stderrCopy := captureOutput(t, binary)
	p := &process{}
	var err error
	p.Process, err = procs.Start(context.Background(), filepath.Join(binDir, binary), cfg, procs.Options{
		Env: childEnv, Args: args, Stdout: stdout,
		Log: func(line string) {
			fmt.Fprintln(stderrCopy, line)
			p.mu.Lock()
			p.lines = append(p.lines, line)
			p.mu.Unlock()
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			p.mu.Lock()
			tail := p.lines[max(0, len(p.lines)-30):]
			p.mu.Unlock()
			t.Logf("%s %d last log lines:\n%s", binary, p.Pid(), strings.Join(tail, "\n"))
		}
	})
	return p
}

// waitLog waits until a log line contains substr.
func (p *process) waitLog(t *testing.T, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, l := range p.lines {
			if strings.Contains(l, substr) {
				p.mu.Unlock()
				return
			}
		}
		p.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no log line with %q within %s", substr, timeout)
}

// waitJob polls a job until it is final.
func waitJob(t *testing.T, store *jobs.Store, id string, timeout time.Duration) jobs.Job {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j, err := store.GetAny(context.Background(), id)
		require.NoError(t, err)
		if j.State.Final() {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s (%d/%d) after %s", id, j.State, j.Progress.Done, j.Progress.Total, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitProgress polls until a job has done at least n units.
func waitProgress(t *testing.T, store *jobs.Store, id string, n int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		j, err := store.GetAny(context.Background(), id)
		require.NoError(t, err)
		if j.Progress.Done >= n {
			return
		}
		if j.State.Final() {
			t.Fatalf("job %s ended %s before reaching %d: %s", id, j.State, n, j.Error)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job %s did not reach %d within %s", id, n, timeout)
}
