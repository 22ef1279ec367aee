-- Snapshots are written in one COPY from an unordered, consistent scan of
-- the index (one scroll, or one PostgreSQL statement), so a row's position
-- in the segment's order is no longer its arrival number: each row carries
-- its sort key, bytes that compare in the order of the search (see
-- internal/snapshot/order.go), and pages are read by it. Rows written
-- before this migration keep their order: their key is their seq as a
-- big-endian integer.
ALTER TABLE segment_snapshot_rows ADD COLUMN sort_key bytea;
UPDATE segment_snapshot_rows SET sort_key = int8send(seq);
ALTER TABLE segment_snapshot_rows ALTER COLUMN sort_key SET NOT NULL;
ALTER TABLE segment_snapshot_rows DROP CONSTRAINT segment_snapshot_rows_pkey;
ALTER TABLE segment_snapshot_rows ADD PRIMARY KEY (job_id, sort_key);
ALTER TABLE segment_snapshot_rows DROP COLUMN seq;
