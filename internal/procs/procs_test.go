package procs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/procs"
)

// script writes an executable shell script named name into a temporary
// directory and returns its path.
func script(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	return path
}

// TestOnlyServerBinaries: Start knows how api, worker and scheduler say
// they are ready, and nothing else.
func TestOnlyServerBinaries(t *testing.T) {
	t.Parallel()
	_, err := procs.Start(context.Background(), script(t, "reactivation", "exit 0"), config.Config{}, procs.Options{})
	require.ErrorContains(t, err, "not a server binary")
}

// TestExitBeforeReadyFails: a process that exits without ever answering
// its probe fails Start with its last log lines, and its log reached Log.
func TestExitBeforeReadyFails(t *testing.T) {
	t.Parallel()
	var lines []string
	_, err := procs.Start(context.Background(), script(t, "worker", `echo "bad config: $WORKER_CONCURRENCY" >&2; exit 1`),
		config.Config{WorkerConcurrency: 3}, procs.Options{Log: func(l string) { lines = append(lines, l) }, Ready: 10 * time.Second})
	require.ErrorContains(t, err, "exited before it was ready")
	require.ErrorContains(t, err, "bad config: 3", "the error carries the log, and the child got the configuration")
	require.Contains(t, lines, "bad config: 3")
}

// TestNotReadyInTimeIsStopped: a process that never answers is stopped
// when Ready passes.
func TestNotReadyInTimeIsStopped(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, err := procs.Start(context.Background(), script(t, "scheduler", "exec sleep 60"), config.Config{},
		procs.Options{Ready: 500 * time.Millisecond})
	require.ErrorContains(t, err, "was not ready within")
	require.Less(t, time.Since(start), 20*time.Second)
}
