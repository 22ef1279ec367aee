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
	_, _, err := Rebuild(TypeSyncShard, []byte(`{}`))
	require.Error(t, err)
}
