package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/jobs"
)

// requireExportedOnce waits for export id to end and requires it
// succeeded with one complete file: one audit entry, its rows all in the
// file, its chunks those of one attempt, its size and checksum right.
func (b *testBundle) requireExportedOnce(t *testing.T, id string, timeout time.Duration) export.Export {
	t.Helper()
	ctx := context.Background()
	j := waitJob(t, b.deps.Jobs, id, timeout)
	require.Equal(t, jobs.Succeeded, j.State, "export %s: %s", id, j.Error)
	e, raw := b.download(t, id) // size and checksum of the one file
	require.Equal(t, e.Progress.Rows, e.Progress.Total)
	require.Equal(t, int(e.Progress.Rows), countLines(raw), "export %s: a complete file", id)
	var audits, chunks int
	require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT count(*) FROM export_audit WHERE export_id = $1", id).Scan(&audits))
	require.Equal(t, 1, audits, "export %s produced once", id)
	require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT count(*) FROM export_chunks WHERE export_id = $1", id).Scan(&chunks))
	require.Equal(t, int((e.SizeBytes+export.DefaultChunkSize-1)/export.DefaultChunkSize), chunks, "export %s: the chunks of one attempt", id)
	return e
}
