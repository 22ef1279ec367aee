-- The source tables of DESIGN.md, as a customer's database holds them.
-- Created by `reactivation migrate --demo-schema`; a real deployment points
-- SOURCE_DATABASE_URL at its own database instead. IDs are text.
CREATE TABLE IF NOT EXISTS customers (
    customer_id text PRIMARY KEY,
    company_id  text NOT NULL,
    phone       text,
    name        text,
    email       text,
    gender      text,
    city        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS invoices (
    invoice_id   text PRIMARY KEY,
    customer_id  text NOT NULL,
    invoice_date timestamptz NOT NULL,
    total_amount numeric(12,2) NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS products (
    product_id text PRIMARY KEY,
    name       text NOT NULL
);

CREATE TABLE IF NOT EXISTS invoice_products (
    invoice_id text NOT NULL,
    product_id text NOT NULL,
    quantity   integer NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS ingredients (
    ingredient_id text PRIMARY KEY,
    name          text NOT NULL
);

CREATE TABLE IF NOT EXISTS product_ingredients (
    product_id    text NOT NULL,
    ingredient_id text NOT NULL,
    PRIMARY KEY (product_id, ingredient_id)
);
