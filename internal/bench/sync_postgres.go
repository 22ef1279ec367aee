package bench

import (
	"context"
	"fmt"
)

// runSyncPostgres is the sync scenario on the embedded PostgreSQL engine
// (`--engine postgres`): a full sync with WORKER_CONCURRENCY=4 and the
// configured shard size, timed beside the seed's materialized view over
// the same source in the same run, then an incremental sync of 1% of the
// customers, enqueue to searchable. There is no raw _bulk baseline: the
// engine has no bulk API of its own to compare with.
func runSyncPostgres(ctx context.Context, env Env, r *Report) error {
	r.Engine = EnginePostgres
	cfg, err := dataConfig(ctx, env)
	if err != nil {
		return err
	}
	cfg.ElasticsearchURL = ""
	cfg.IndexAlias += "_pg" // its own sync state and view beside the Elasticsearch run's
	cfg.WorkerConcurrency = 4
	d, closeAll, err := openWithWorker(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer closeAll()

	fmt.Fprintf(env.Out, "full sync (postgres engine, shard size %d) ...\n", cfg.SyncShardSize)
	_, full, err := timeFullSync(ctx, d, r)
	if err != nil {
		return err
	}
	seed, err := timeSeedView(ctx, env, d, nil)
	if err != nil {
		return err
	}
	r.Add("seed_view_seconds", seed.Seconds(), "s")
	r.Add("full_sync_vs_seed_view", full.Seconds()/seed.Seconds(), "ratio")
	r.AtMost("full_sync_over_seed_view", full.Seconds()/seed.Seconds(), 0.75)

	return timeIncremental(ctx, env, d, r, func(city string, n int) error {
		return waitSearchableIn(ctx, d.Engine, city, n)
	})
}
