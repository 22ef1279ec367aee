-- An export's parameters and its file, beside its job row. The file (gzip)
-- lives in export_chunks so any API replica can serve it.
CREATE TABLE exports (
    job_id      text PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    company_id  text NOT NULL,
    created_by  text,
    filter      jsonb NOT NULL,
    format      text NOT NULL CHECK (format IN ('csv', 'ndjson')),
    fields      text[] NOT NULL,
    excel_bom   boolean NOT NULL DEFAULT false,
    file_name   text NOT NULL,
    -- Bumped by every run: a run writes chunks and finishes only while its
    -- attempt is the current one, so a stale run can never mix its bytes in.
    attempt     int NOT NULL DEFAULT 0,
    rows        bigint,
    size_bytes  bigint,
    sha256      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    expires_at  timestamptz NOT NULL,
    expired_at  timestamptz,
    deleted_at  timestamptz
);
CREATE INDEX exports_live_expiry_idx ON exports (expires_at) WHERE expired_at IS NULL AND deleted_at IS NULL;

CREATE TABLE export_chunks (
    export_id text NOT NULL REFERENCES exports (job_id) ON DELETE CASCADE,
    seq       int NOT NULL,
    data      bytea NOT NULL,
    PRIMARY KEY (export_id, seq)
);
-- Chunks are written once and read whole: keep them out of TOAST compression
-- (they are gzip already).
ALTER TABLE export_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- One row per export once it is final: who exported what, and how much.
-- No foreign key: the audit outlives the export and its job.
CREATE TABLE export_audit (
    id          bigserial PRIMARY KEY,
    export_id   text NOT NULL UNIQUE,
    key_id      text,
    company_id  text NOT NULL,
    filter      jsonb NOT NULL,
    format      text NOT NULL,
    fields      text[] NOT NULL,
    state       text NOT NULL,
    rows        bigint NOT NULL DEFAULT 0,
    bytes       bigint NOT NULL DEFAULT 0,
    error       text,
    created_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL
);
