-- The bucket bounds of the serving generation's change pass
-- (docs/change-tracking.md): every 1000th tracked customer id in byte
-- order, chosen at its first incremental pass, reset when a full sync's
-- generation is adopted.
ALTER TABLE sync_state ADD COLUMN bounds text[];

-- A full run's source customer count, read in its plan snapshot: the
-- finalize check allows for the customers deleted since.
ALTER TABLE sync_runs ADD COLUMN plan_customers bigint;
