-- Fair queues across companies. The first task of a per-company job
-- (export, segment search, refresh, campaign work) is held here, in the
-- job's own job_tasks row, instead of going straight to Redis; an admitter
-- hands held tasks to asynq in fair order, within each company's cap. The
-- job rows are the queue of record: Redis restarted empty loses no held job.
ALTER TABLE job_tasks
    ADD COLUMN payload     bytea,        -- the held task's payload, to rebuild it at admission
    ADD COLUMN held        boolean NOT NULL DEFAULT false,
    ADD COLUMN admitted_at timestamptz;  -- when it was handed to asynq (NULL while held)

-- Held tasks in arrival order, and the admitted, unfinished ones per company.
CREATE INDEX job_tasks_held_idx ON job_tasks (enqueued_at) WHERE held AND admitted_at IS NULL AND NOT done;
CREATE INDEX job_tasks_admitted_idx ON job_tasks (job_id) WHERE held AND admitted_at IS NOT NULL AND NOT done;
