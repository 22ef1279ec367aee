-- Large-segment search results: the complete matching set, frozen in
-- order, so clients page through it while live data changes underneath.
CREATE TABLE segment_snapshot_rows (
    job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq    bigint NOT NULL,
    total_spent_cents bigint NOT NULL,
    doc    jsonb NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE segment_snapshots (
    job_id     text PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    rows       bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL,
    expired    boolean NOT NULL DEFAULT false
);
CREATE INDEX segment_snapshots_expiry_idx ON segment_snapshots (expires_at) WHERE NOT expired;
