-- One reconcile pass at a time, beside one full and one incremental sync.
DROP INDEX jobs_one_running_sync;
CREATE UNIQUE INDEX jobs_one_running_sync ON jobs (type)
    WHERE type IN ('sync.full', 'sync.incremental', 'sync.reconcile') AND state IN ('queued', 'running');

-- What a reconcile shard found out of step, by kind (its docs column
-- counts the documents it repaired).
ALTER TABLE sync_shards
    ADD COLUMN missing bigint NOT NULL DEFAULT 0,
    ADD COLUMN extra   bigint NOT NULL DEFAULT 0,
    ADD COLUMN stale   bigint NOT NULL DEFAULT 0,
    ADD COLUMN checked bigint NOT NULL DEFAULT 0;
