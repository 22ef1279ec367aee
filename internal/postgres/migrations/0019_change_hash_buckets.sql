-- The change pass buckets customers by a hash of their id
-- (docs/change-tracking.md), not by ranges: no bounds to keep.
ALTER TABLE sync_state DROP COLUMN bounds;
