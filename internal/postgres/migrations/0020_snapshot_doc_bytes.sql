-- A snapshot's documents are written once, by one COPY, and handed back as
-- they were written (snapshot.Page's raw JSON); no statement looks inside
-- them. As jsonb, PostgreSQL parsed every document on the way in and wrote
-- its larger binary form: 436k rows of a profile's JSON took 6.0 s against
-- 3.2 s as bytea (INSERT ... SELECT in psql). The bytes are our own
-- json.Marshal output, valid by construction.
ALTER TABLE segment_snapshot_rows ALTER COLUMN doc TYPE bytea USING convert_to(doc::text, 'UTF8');
