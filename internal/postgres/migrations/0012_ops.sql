-- Vanished tasks are re-enqueued, not failed. Every task's payload is kept
-- (held fair tasks already kept theirs), so the reaper can rebuild a task
-- that Redis lost (a restart without data, a Sentinel failover that lost
-- the last writes of the old primary) under the same id; requeues bounds
-- how often it does so before it fails the job with the reason.
ALTER TABLE job_tasks
    ADD COLUMN requeues integer NOT NULL DEFAULT 0;
