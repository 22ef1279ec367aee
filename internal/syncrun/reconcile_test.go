package syncrun_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/syncrun"
	"github.com/reactivation/reactivation/tasks"
)

// reconcile runs a whole reconcile pass in this process and returns its
// result.
func (b *testBundle) reconcile(t *testing.T) syncrun.Drift {
	t.Helper()
	ctx := context.Background()
	job, err := b.svc.Start(ctx, syncrun.ModeReconcile, jobs.Tenant{Admin: true}, "test")
	require.NoError(t, err)
	_, err = b.deps.Jobs.Start(ctx, job.ID)
	require.NoError(t, err)
	require.NoError(t, b.svc.ReconcilePlan(ctx, job.ID))
	rows, err := b.deps.DB.Query(ctx, "SELECT shard, lo, hi FROM sync_shards WHERE job_id = $1 ORDER BY shard", job.ID)
	require.NoError(t, err)
	var shards []tasks.SyncReconcileShardPayload
	for rows.Next() {
		p := tasks.SyncReconcileShardPayload{JobPayload: tasks.JobPayload{JobID: job.ID}}
		require.NoError(t, rows.Scan(&p.Shard, &p.Lo, &p.Hi))
		shards = append(shards, p)
	}
	require.NoError(t, rows.Err())
	require.Greater(t, len(shards), 1)
	for _, p := range shards {
		require.NoError(t, b.svc.ReconcileShard(ctx, p))
	}
	done := b.requireState(t, job.ID, jobs.Succeeded)
	var d syncrun.Drift
	require.NoError(t, json.Unmarshal(done.Result, &d))
	return d
}

// TestReconcileRepairsDrift, on both engines: after a full sync the index
// is changed behind the sync's back (documents deleted, stray documents
// added, documents edited) and the source is changed without touching
// what change tracking reads; one reconcile pass reports exactly those
// by kind, repairs them, and a second pass finds nothing.
func TestReconcileRepairsDrift(t *testing.T) {
	for _, engine := range []string{"elasticsearch", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			b := setup(t, 500, func(c *config.Config) {
				if engine == "postgres" {
					c.ElasticsearchURL = ""
				}
			}, nil)
			b.runFull(t)
			require.Equal(t, syncrun.Drift{Checked: 500}, b.reconcile(t), "a fresh index has no drift")

			var ids []string
			rows, err := b.deps.DB.Query(ctx, "SELECT customer_id FROM customers ORDER BY customer_id")
			require.NoError(t, err)
			for rows.Next() {
				var id string
				require.NoError(t, rows.Scan(&id))
				ids = append(ids, id)
			}
			require.NoError(t, rows.Err())
			docs := func(ids []string) []profile.Profile {
				f, err := b.deps.Engine.FingerprintsOf(ctx, ids)
				require.NoError(t, err)
				require.Len(t, f, len(ids))
				var out []profile.Profile
				require.NoError(t, b.deps.Engine.Scan(ctx, search.Query{Size: 100, Unordered: true}, func(page []profile.Profile) error {
					for _, p := range page {
						for _, id := range ids {
							if p.CustomerID == id {
								out = append(out, p)
							}
						}
					}
					return nil
				}))
				return out
			}
			// Writes are versioned: drift written straight into the index
			// carries the version of the document it replaces, as a write
			// of the same source state would.
			versionOf := func(id string) int64 {
				f, err := b.deps.Engine.FingerprintsOf(ctx, []string{id})
				require.NoError(t, err)
				require.Len(t, f, 1)
				return f[0].Version
			}
			// Missing: three documents deleted from the index (ids spread over shards).
			var tombs []search.Tombstone
			for _, id := range []string{ids[3], ids[250], ids[499]} {
				tombs = append(tombs, search.Tombstone{CustomerID: id, Version: versionOf(id)})
			}
			require.NoError(t, b.deps.Engine.Delete(ctx, tombs))
			// Extra: two stray documents, one before the first id and one after the last.
			require.NoError(t, b.deps.Engine.Upsert(ctx, []profile.Profile{
				{CustomerID: "0000-stray", CompanyID: "COMP001", Name: "Stray"},
				{CustomerID: "zzzz-stray", CompanyID: "COMP002", Name: "Stray"},
			}))
			// Stale: two documents edited in the index, one customer edited in
			// the source without touching updated_at.
			edited := docs([]string{ids[10], ids[320]})
			require.Len(t, edited, 2)
			for i := range edited {
				edited[i].TotalPurchases += 7
				edited[i].SourceVersion = versionOf(edited[i].CustomerID)
			}
			require.NoError(t, b.deps.Engine.Upsert(ctx, edited))
			_, err = b.deps.DB.Exec(ctx, "UPDATE customers SET city = 'Cartago Nueva' WHERE customer_id = $1", ids[111])
			require.NoError(t, err)

			got := b.reconcile(t)
			require.Equal(t, syncrun.Drift{Missing: 3, Extra: 2, Stale: 3, Repaired: 8, Checked: 502}, got)
			require.Equal(t, syncrun.Drift{Checked: 500}, b.reconcile(t), "the repairs hold")
			repaired := docs([]string{ids[3], ids[111]})
			for _, p := range repaired {
				if p.CustomerID == ids[111] {
					require.Equal(t, "Cartago Nueva", p.City)
				}
			}
			f, err := b.deps.Engine.FingerprintsOf(ctx, []string{"0000-stray", "zzzz-stray"})
			require.NoError(t, err)
			require.Empty(t, f)
		})
	}
}
