package syncrun_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/tasks"
)

// eraseCustomers deletes n customers (the first by md5 of their id) with
// their invoices and lines, and returns their ids.
func eraseCustomers(t *testing.T, b *testBundle, n int) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := b.deps.Source.Query(ctx, "SELECT customer_id FROM customers ORDER BY md5(customer_id) LIMIT $1", n)
	require.NoError(t, err)
	var ids []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	for _, sql := range []string{
		"DELETE FROM invoice_products WHERE invoice_id IN (SELECT invoice_id FROM invoices WHERE customer_id = ANY($1))",
		"DELETE FROM invoices WHERE customer_id = ANY($1)",
		"DELETE FROM customers WHERE customer_id = ANY($1)",
	} {
		_, err := b.deps.Source.Exec(ctx, sql, ids)
		require.NoError(t, err)
	}
	return ids
}

// TestFinalizeAllowsCustomersDeletedDuringTheRun: customers deleted after
// their shard read them leave the generation with more documents than the
// source has; finalize accepts it (before the fix it allowed only
// customers whose updated_at moved, and failed the sync), and the
// catch-up removes them.
func TestFinalizeAllowsCustomersDeletedDuringTheRun(t *testing.T) {
	ctx := context.Background()
	b := setup(t, 600, nil, nil)
	job, fin := b.planAndShards(t)
	gone := eraseCustomers(t, b, 40)

	require.NoError(t, b.svc.Finalize(ctx, fin))
	j := b.requireState(t, job.ID, jobs.Succeeded)
	var res struct {
		CaughtUpDeleted int `json:"caughtUpDeleted"`
	}
	require.NoError(t, json.Unmarshal(j.Result, &res))
	require.Equal(t, 40, res.CaughtUpDeleted, string(j.Result))
	n, err := b.deps.Engine.Count(ctx, fin.Generation)
	require.NoError(t, err)
	want, err := source.CountCustomers(ctx, b.deps.Source)
	require.NoError(t, err)
	require.Equal(t, want, n)
	require.Len(t, gone, 40)
}

// TestFinalizeRefusesAGenerationMissingCustomers: a shard marked done that
// never wrote (its customers existed at the plan and still do) leaves the
// generation short of the source by more than the customers written
// since; finalize abandons the run and the serving generation stays.
func TestFinalizeRefusesAGenerationMissingCustomers(t *testing.T) {
	ctx := context.Background()
	b := setup(t, 600, nil, nil)
	first := b.runFull(t)

	job, shards := b.plan(ctx, t)
	for _, p := range shards[1:] {
		require.NoError(t, b.svc.Shard(ctx, p))
	}
	_, err := b.deps.DB.Exec(ctx, "UPDATE sync_shards SET done = true WHERE job_id = $1 AND shard = $2", job.ID, shards[0].Shard)
	require.NoError(t, err)
	// Customers written since the plan are allowed for; a few of them do
	// not cover a whole shard.
	_, err = b.deps.Source.Exec(ctx, "UPDATE customers SET city = 'Nicoya' WHERE customer_id IN (SELECT customer_id FROM customers ORDER BY customer_id DESC LIMIT 5)")
	require.NoError(t, err)

	require.NoError(t, b.svc.Finalize(ctx, tasks.SyncFinalizePayload{JobPayload: tasks.JobPayload{JobID: job.ID}, Generation: shards[0].Generation}))
	j := b.requireState(t, job.ID, jobs.Failed)
	require.Contains(t, j.Error, "the source had 600 customers at the plan and has 600 now, 5 written since")
	serving, err := b.deps.Engine.Current(ctx)
	require.NoError(t, err)
	require.Equal(t, first.Generation, serving)
}
