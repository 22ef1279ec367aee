package tasks

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEveryTypeHasItsQueue checks that the queue table names every task
// type on a declared queue, so no type falls back to the default queue
// by omission.
func TestEveryTypeHasItsQueue(t *testing.T) {
	t.Parallel()
	declared := []string{QueueCritical, QueueSync, QueueDefault, QueueExport}
	types := []string{TypeSyncPlan, TypeSyncShard, TypeSyncFinalize, TypeSyncIncremental, TypeSyncRefresh,
		TypeSyncCatalog, TypeJobsReap, TypeSegmentSearch, TypeSnapshotsCleanup, TypeCleanupLegacy,
		TypeSyncReconcile, TypeSyncReconcileShard, TypeScoresFit, TypeExport, TypeExportCleanup, TypeCampaignFreeze}
	require.Len(t, queues, len(types), "a type in the queue table is missing from this test, or the reverse")
	for _, typ := range types {
		q, ok := queues[typ]
		require.True(t, ok, "%s has no queue", typ)
		require.Contains(t, declared, q, typ)
	}
	require.Equal(t, QueueExport, QueueOf(TypeCampaignFreeze))
	require.Equal(t, QueueOf(TypeSnapshotsCleanup), QueueOf(TypeCleanupLegacy))
}

// TestSnapshotsCleanupTask checks the renamed task: its type, its queue
// and an id per slot, so scheduler replicas collide on it.
func TestSnapshotsCleanupTask(t *testing.T) {
	t.Parallel()
	task, id, err := NewSnapshotsCleanupTask(SnapshotsCleanupPayload{Slot: 42})
	require.NoError(t, err)
	require.Equal(t, "snapshots:cleanup", task.Type())
	require.Equal(t, "snapshots-cleanup:42", id)
}
