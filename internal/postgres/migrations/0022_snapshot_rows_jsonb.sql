-- On the PostgreSQL engine a snapshot's rows are copied by the database
-- itself (INSERT ... SELECT from the serving view: snapshot.SQLSource), so
-- the documents stay the engine's jsonb, compressed as they are, in
-- doc_jsonb; they are encoded as the profile's JSON when a page is read.
-- Rows written from a scan (Elasticsearch) keep their JSON bytes in doc.
-- Every row has exactly one of the two.
ALTER TABLE segment_snapshot_rows ALTER COLUMN doc DROP NOT NULL;
ALTER TABLE segment_snapshot_rows ADD COLUMN doc_jsonb jsonb;
ALTER TABLE segment_snapshot_rows ADD CONSTRAINT segment_snapshot_rows_one_doc CHECK ((doc IS NULL) <> (doc_jsonb IS NULL));
