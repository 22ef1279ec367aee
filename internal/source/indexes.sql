-- Indexes the sync reads by. Created after a bulk load (cheaper than
-- maintaining them row by row) and by `migrate --demo-schema`.
CREATE INDEX IF NOT EXISTS invoices_customer_id_idx ON invoices (customer_id);
CREATE INDEX IF NOT EXISTS invoices_updated_at_idx ON invoices (updated_at);
CREATE INDEX IF NOT EXISTS invoice_products_invoice_id_idx ON invoice_products (invoice_id);
CREATE INDEX IF NOT EXISTS customers_updated_at_idx ON customers (updated_at);
CREATE INDEX IF NOT EXISTS customers_company_id_idx ON customers (company_id, customer_id);
