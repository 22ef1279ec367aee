-- One full sync and one incremental sync at a time: a second one is a
-- conflict the API reports with the running job's id.
CREATE UNIQUE INDEX jobs_one_running_sync ON jobs (type)
    WHERE type IN ('sync.full', 'sync.incremental') AND state IN ('queued', 'running');

-- A sync run's bookkeeping beside its job row.
CREATE TABLE sync_runs (
    job_id       text PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    mode         text NOT NULL,
    generation   text,
    shards_total int NOT NULL DEFAULT 0,
    shards_done  int NOT NULL DEFAULT 0,
    docs_indexed bigint NOT NULL DEFAULT 0,
    -- The source's clock when the run began reading: changes after it are
    -- caught up by the next incremental pass.
    watermark    timestamptz,
    planned_at   timestamptz,
    indexed_at   timestamptz,
    promoted_at  timestamptz
);

CREATE TABLE sync_shards (
    job_id      text NOT NULL REFERENCES sync_runs (job_id) ON DELETE CASCADE,
    shard       int NOT NULL,
    lo          text NOT NULL,
    hi          text NOT NULL,
    done        boolean NOT NULL DEFAULT false,
    docs        bigint NOT NULL DEFAULT 0,
    finished_at timestamptz,
    PRIMARY KEY (job_id, shard)
);

-- What the serving index reflects, per alias.
CREATE TABLE sync_state (
    alias               text PRIMARY KEY,
    generation          text,
    watermark           timestamptz,
    last_full_at        timestamptz,
    last_incremental_at timestamptz
);
