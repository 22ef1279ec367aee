-- Indexes the sync reads by. Created after a bulk load (cheaper than
-- maintaining them row by row) and by `migrate --demo-schema`.
CREATE INDEX IF NOT EXISTS invoices_customer_id_idx ON invoices (customer_id);
CREATE INDEX IF NOT EXISTS invoices_updated_at_idx ON invoices (updated_at);
-- An invoice's lines are looked up by its id under the "C" collation:
-- the descent compares bytes, not the database collation's rules (the
-- sync checks for this index and uses it; docs/capacity.md). It replaces
-- the demo's earlier index on the same column.
CREATE INDEX IF NOT EXISTS invoice_products_invoice_id_c_idx ON invoice_products (invoice_id COLLATE "C");
DROP INDEX IF EXISTS invoice_products_invoice_id_idx;
CREATE INDEX IF NOT EXISTS customers_updated_at_idx ON customers (updated_at);
CREATE INDEX IF NOT EXISTS customers_company_id_idx ON customers (company_id, customer_id);
