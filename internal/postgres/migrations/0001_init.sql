-- API keys: only a SHA-256 of the secret is stored; prefix finds the row.
CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    prefix       text NOT NULL UNIQUE,
    secret_hash  bytea NOT NULL,
    company_id   text,
    admin        boolean NOT NULL DEFAULT false,
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz,
    CHECK (admin OR company_id IS NOT NULL)
);

-- Every asynchronous operation is a job. company_id NULL: started by an
-- admin key or the scheduler, across companies.
CREATE TABLE jobs (
    id             text PRIMARY KEY,
    company_id     text,
    type           text NOT NULL,
    state          text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    progress_done  bigint NOT NULL DEFAULT 0,
    progress_total bigint NOT NULL DEFAULT 0,
    params         jsonb NOT NULL DEFAULT '{}',
    result         jsonb,
    error          text,
    created_by     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz
);
CREATE INDEX jobs_company_created_idx ON jobs (company_id, created_at DESC, id DESC);
CREATE INDEX jobs_active_idx ON jobs (state) WHERE state IN ('queued', 'running');

-- The asynq tasks a job is waiting on. The reaper fails a job whose
-- outstanding tasks have all vanished from Redis.
CREATE TABLE job_tasks (
    task_id     text PRIMARY KEY,
    job_id      text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    queue       text NOT NULL,
    type        text NOT NULL,
    done        boolean NOT NULL DEFAULT false,
    enqueued_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_tasks_job_idx ON job_tasks (job_id) WHERE NOT done;

-- One row per scheduler tick that was acted on: two scheduler replicas race
-- to insert it and only the winner enqueues.
CREATE TABLE schedule_ticks (
    name       text NOT NULL,
    slot       timestamptz NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, slot)
);
