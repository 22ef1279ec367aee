package tasks

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Rebuilding a held task from its type and payload gives the task its
// constructor made: same type, payload and id.
func TestRebuildEqualsTheConstructor(t *testing.T) {
	cases := []struct {
		task func() (typ string, payload []byte, id string, err error)
	}{
		{func() (string, []byte, string, error) {
			tk, id, err := NewExportTask(ExportPayload{JobPayload: JobPayload{JobID: "j1"}})
			return tk.Type(), tk.Payload(), id, err
		}},
		{func() (string, []byte, string, error) {
			tk, id, err := NewSegmentSearchTask(SegmentSearchPayload{JobPayload: JobPayload{JobID: "j2"}})
			return tk.Type(), tk.Payload(), id, err
		}},
		{func() (string, []byte, string, error) {
			tk, id, err := NewSyncRefreshTask(SyncRefreshPayload{JobPayload: JobPayload{JobID: "j3"}, CustomerIDs: []string{"a", "b"}})
			return tk.Type(), tk.Payload(), id, err
		}},
		{func() (string, []byte, string, error) {
			tk, id, err := NewCampaignFreezeTask(CampaignFreezePayload{JobPayload: JobPayload{JobID: "j4"}, CampaignID: "c"})
			return tk.Type(), tk.Payload(), id, err
		}},
	}
	for _, c := range cases {
		typ, payload, id, err := c.task()
		require.NoError(t, err)
		require.True(t, Fair(typ), typ)
		got, gotID, err := Rebuild(typ, payload)
		require.NoError(t, err)
		require.Equal(t, typ, got.Type())
		require.JSONEq(t, string(payload), string(got.Payload()))
		require.Equal(t, id, gotID)
	}
	require.False(t, Fair(TypeSyncShard), "a shard belongs to an admin sync, not a company")
}

// Every task of a job can be rebuilt from its job_tasks row, so the reaper
// can re-enqueue one that Redis lost under its own id; maintenance ticks
// belong to no job and cannot.
func TestRebuildEveryJobTask(t *testing.T) {
	shard, shardID, err := NewSyncShardTask(SyncShardPayload{JobPayload: JobPayload{JobID: "j5"}, Shard: 7, Generation: "g", Lo: "a", Hi: "b"})
	require.NoError(t, err)
	got, gotID, err := Rebuild(shard.Type(), shard.Payload())
	require.NoError(t, err)
	require.Equal(t, shardID, gotID)
	require.Equal(t, "j5:shard:7", gotID)
	require.JSONEq(t, string(shard.Payload()), string(got.Payload()))
	for _, typ := range []string{TypeSyncPlan, TypeSyncFinalize, TypeSyncIncremental, TypeSyncCatalog,
		TypeSyncReconcile, TypeSyncReconcileShard, TypeScoresFit} {
		_, id, err := Rebuild(typ, []byte(`{"job_id":"j6"}`))
		require.NoError(t, err, typ)
		require.Contains(t, id, "j6:", typ)
	}
	_, _, err = Rebuild(TypeJobsReap, []byte(`{"slot":1}`))
	require.Error(t, err, "a reaper tick belongs to no job")
	_, _, err = Rebuild(TypeSyncShard, []byte(`not json`))
	require.Error(t, err)
}
