-- Change tracking by source transaction ids (docs/change-tracking.md).

-- The source snapshot (pg_current_snapshot() as text, xmin:xmax:xip) the
-- serving generation is known to be current with: the next incremental
-- pass re-reads every row written by a transaction id >= its xmin.
ALTER TABLE sync_state ADD COLUMN snapshot text;
-- A full run's plan snapshot: the catch-up after the swap starts from it.
ALTER TABLE sync_runs ADD COLUMN snapshot text;
-- ... and the catalog fingerprints read just after it (product id -> fingerprint).
ALTER TABLE sync_runs ADD COLUMN catalog jsonb;

-- What each generation's document of a customer was computed from: the
-- counts of its invoices and invoice lines, which reveal deletes and
-- invoices moved away (the source keeps no trace of them), and the
-- source version of the document.
CREATE TABLE tracked_customers (
    alias       text NOT NULL,
    generation  text NOT NULL,
    customer_id text COLLATE "C" NOT NULL,
    company_id  text NOT NULL,
    invoices    bigint NOT NULL,
    lines       bigint NOT NULL,
    version     bigint NOT NULL,
    PRIMARY KEY (alias, generation, customer_id)
);

-- The catalog the index is current with: one fingerprint (name and
-- ingredient names) per product; a product whose fingerprint changed has
-- its buyers re-enriched.
CREATE TABLE tracked_products (
    alias       text NOT NULL,
    product_id  text NOT NULL,
    fingerprint text NOT NULL,
    PRIMARY KEY (alias, product_id)
);
