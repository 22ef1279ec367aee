// Package source reads the customer's own database: the six
// tables of docs/architecture.md (customers, invoices, invoice_products, products, product_ingredients,
// ingredients), never written by the service except for the demo.
package source

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed schema.sql
var schemaSQL string

//go:embed indexes.sql
var indexesSQL string

// Tables lists the source tables in load order.
var Tables = []string{"customers", "invoices", "products", "invoice_products", "ingredients", "product_ingredients"}

// CreateSchema creates the demo source tables and the indexes sync needs,
// leaving existing tables and rows alone.
func CreateSchema(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, schemaSQL); err != nil {
		return fmt.Errorf("create source schema: %w", err)
	}
	return CreateIndexes(ctx, pool)
}

// CreateIndexes creates the indexes incremental and full sync read by.
func CreateIndexes(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, indexesSQL); err != nil {
		return fmt.Errorf("create source indexes: %w", err)
	}
	return nil
}

// DropIndexes drops the indexes CreateIndexes makes, before a bulk load.
func DropIndexes(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, `
		DROP INDEX IF EXISTS invoices_customer_id_idx;
		DROP INDEX IF EXISTS invoices_updated_at_idx;
		DROP INDEX IF EXISTS invoice_products_invoice_id_idx;
		DROP INDEX IF EXISTS invoice_products_invoice_id_c_idx;
		DROP INDEX IF EXISTS customers_updated_at_idx;
		DROP INDEX IF EXISTS customers_company_id_idx;`)
	if err != nil {
		return fmt.Errorf("drop source indexes: %w", err)
	}
	return nil
}
