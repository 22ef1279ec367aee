package syncrun_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/syncrun"
	"github.com/reactivation/reactivation/tasks"
)

// TestModeTable checks the one table a sync mode's job type, task and
// queue come from: every mode has its own job type among jobs.Types, a
// task type with a queue of its own, and the startable modes are Modes.
func TestModeTable(t *testing.T) {
	t.Parallel()
	all := []syncrun.Mode{syncrun.ModeFull, syncrun.ModeIncremental, syncrun.ModeRefresh, syncrun.ModeReconcile, syncrun.ModeCatalog}
	jobTypes := map[string]syncrun.Mode{}
	for _, m := range all {
		spec, ok := syncrun.SpecOf(m)
		require.True(t, ok, m)
		require.Equal(t, m, spec.Mode)
		require.Contains(t, jobs.Types, spec.JobType, m)
		require.NotContains(t, jobTypes, spec.JobType, "%s shares its job type with %s", m, jobTypes[spec.JobType])
		jobTypes[spec.JobType] = m
		require.NotEmpty(t, spec.TaskType, m)
		require.Equal(t, tasks.QueueOf(spec.TaskType), spec.Queue(), m)
	}
	full, _ := syncrun.SpecOf(syncrun.ModeFull)
	require.Equal(t, jobs.TypeSyncFull, full.JobType)
	require.Equal(t, tasks.TypeSyncPlan, full.TaskType)
	require.Equal(t, tasks.QueueSync, full.Queue())
	refresh, _ := syncrun.SpecOf(syncrun.ModeRefresh)
	require.Equal(t, tasks.QueueCritical, refresh.Queue(), "a refresh jumps the sync queue")

	require.Equal(t, []string{"full", "incremental", "reconcile"}, syncrun.Modes)
	_, ok := syncrun.SpecOf("nightly")
	require.False(t, ok)
}

// TestParseMode accepts exactly the startable modes: a refresh names its
// customers and a catalog job is started by change tracking.
func TestParseMode(t *testing.T) {
	t.Parallel()
	for _, name := range syncrun.Modes {
		m, ok := syncrun.ParseMode(name)
		require.True(t, ok, name)
		require.Equal(t, name, m.String())
	}
	for _, name := range []string{"refresh", "catalog", "", "FULL", "sync.full"} {
		_, ok := syncrun.ParseMode(name)
		require.False(t, ok, name)
	}
}
