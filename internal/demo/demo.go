// Package demo generates the source tables of a Costa Rican restaurant group
// (customers, invoices, invoice_products, products, product_ingredients,
// ingredients) at production scale: deterministic for the same options,
// streamed into PostgreSQL through COPY in constant memory.
package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/source"
)

// Options says what Seed generates.
type Options struct {
	// Customers is the number of customers, at least 1.
	Customers int
	// Seed selects the data: the same Seed, Customers, Companies and AsOf
	// give the same rows. Each customer is made from Seed and its number
	// alone, so a run with fewer customers is a prefix of one with more.
	Seed int64
	// Companies is the number of companies customers belong to, COMP001
	// the largest; 0 means 3.
	Companies int
	// Truncate empties the six source tables first. Without it Seed refuses
	// tables that hold rows.
	Truncate bool
	// AsOf is "today": invoices fall in the three years before AsOf's date,
	// at times of day in AsOf's location. The zero value means today in the
	// local time zone.
	AsOf time.Time
	// Progress, if set, is told how far each stage is: for customers,
	// invoices and invoice_products done and total count customers; for
	// indexes and analyze both are 0. It is called from one goroutine at a
	// time.
	Progress func(stage string, done, total int64)
}

// Stages reported to Options.Progress, in order.
const (
	StageCustomers       = "customers"
	StageInvoices        = "invoices"
	StageInvoiceProducts = "invoice_products"
	StageIndexes         = "indexes"
	StageAnalyze         = "analyze"
)

// Stats is what Seed wrote.
type Stats struct {
	// Rows is the number of rows written to each source table.
	Rows map[string]int64
	// Elapsed is the whole run: load, indexes and ANALYZE.
	Elapsed time.Duration
}

// TotalRows is the number of rows written to all tables.
func (s Stats) TotalRows() int64 {
	var n int64
	for _, r := range s.Rows {
		n += r
	}
	return n
}

// RowsPerSecond is TotalRows over Elapsed.
func (s Stats) RowsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.TotalRows()) / s.Elapsed.Seconds()
}

// ErrNotEmpty is returned when the source tables hold rows and
// Options.Truncate is false.
var ErrNotEmpty = errors.New("source tables already hold data")

func (o Options) withDefaults() (Options, error) {
	if o.Customers < 1 {
		return o, fmt.Errorf("demo: customers must be at least 1, got %d", o.Customers)
	}
	if o.Companies < 0 {
		return o, fmt.Errorf("demo: companies must be at least 1, got %d", o.Companies)
	}
	o.Companies = cmp.Or(o.Companies, 3)
	if o.AsOf.IsZero() {
		o.AsOf = time.Now()
	}
	if o.Progress == nil {
		o.Progress = func(string, int64, int64) {}
	}
	return o, nil
}

// Seed creates the source tables if missing and fills them with generated
// data. The rows are loaded in one transaction, after the sync indexes are
// dropped; the indexes are then created again and the tables analyzed.
//
// If the load fails or ctx is cancelled, the transaction is rolled back:
// the tables keep their previous rows, without the sync indexes, which the
// next Seed (or source.CreateSchema) creates again. The error says so.
func Seed(ctx context.Context, pool *pgxpool.Pool, opts Options) (Stats, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	start := time.Now()
	if err := prepare(ctx, pool, opts); err != nil {
		if ctx.Err() != nil {
			return Stats{}, fmt.Errorf("%w before the load began: no rows changed", interrupted(ctx, err))
		}
		return Stats{}, err
	}
	stats, err := load(ctx, pool, opts)
	if err != nil {
		return Stats{}, fmt.Errorf("%w (rolled back: the source tables keep their previous rows; the sync indexes dropped for the load come back with the next demo seed or migrate --demo-schema)", interrupted(ctx, err))
	}
	opts.Progress(StageIndexes, 0, 0)
	if err := source.CreateIndexes(ctx, pool); err != nil {
		return stats, fmt.Errorf("%w (the data is loaded; migrate --demo-schema creates the missing indexes)", interrupted(ctx, err))
	}
	opts.Progress(StageAnalyze, 0, 0)
	// VACUUM as well: a database that has been running has its rows'
	// visibility settled by autovacuum; a fresh load would make the first
	// sync after it pay for that (about 1.2 s against 0.7 s a shard's
	// lines at 800k customers).
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) "+tableList()); err != nil {
		return stats, fmt.Errorf("analyze source tables: %w (the data is loaded)", interrupted(ctx, err))
	}
	stats.Elapsed = time.Since(start)
	return stats, nil
}

// prepare creates the source schema if missing (repairing the indexes an
// interrupted run dropped), checks that the tables are empty unless they
// are to be truncated, and drops the sync indexes for the load.
func prepare(ctx context.Context, pool *pgxpool.Pool, opts Options) error {
	if err := source.CreateSchema(ctx, pool); err != nil {
		return err
	}
	if !opts.Truncate {
		if err := ensureEmpty(ctx, pool); err != nil {
			return err
		}
	}
	return source.DropIndexes(ctx, pool)
}

// interrupted replaces err by the cancellation's cause when ctx is done:
// the driver's own error is then only a closed connection.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	return err
}

// load writes every table in one transaction.
func load(ctx context.Context, pool *pgxpool.Pool, opts Options) (Stats, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("begin load: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after a commit or a broken connection

	if opts.Truncate {
		if _, err := tx.Exec(ctx, "TRUNCATE "+tableList()); err != nil {
			return Stats{}, fmt.Errorf("truncate source tables: %w", err)
		}
	} else {
		// Checked again under lock: rows may have arrived since the first look.
		if _, err := tx.Exec(ctx, "LOCK TABLE "+tableList()+" IN EXCLUSIVE MODE"); err != nil {
			return Stats{}, fmt.Errorf("lock source tables: %w", err)
		}
		if err := ensureEmpty(ctx, tx); err != nil {
			return Stats{}, err
		}
	}

	g := newGenerator(opts)
	products, ingredients, productIngredients := catalogRows()
	sources := map[string]struct {
		columns []string
		rows    pgx.CopyFromSource
	}{
		"customers":           {customerColumns, g.walk(levelCustomers, StageCustomers, opts.Progress)},
		"invoices":            {invoiceColumns, g.walk(levelInvoices, StageInvoices, opts.Progress)},
		"invoice_products":    {lineColumns, g.walk(levelLines, StageInvoiceProducts, opts.Progress)},
		"products":            {[]string{"product_id", "name"}, pgx.CopyFromRows(products)},
		"ingredients":         {[]string{"ingredient_id", "name"}, pgx.CopyFromRows(ingredients)},
		"product_ingredients": {[]string{"product_id", "ingredient_id"}, pgx.CopyFromRows(productIngredients)},
	}
	stats := Stats{Rows: make(map[string]int64, len(sources))}
	for _, table := range source.Tables {
		src, ok := sources[table]
		if !ok {
			return Stats{}, fmt.Errorf("demo: no generator for source table %s", table)
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, src.columns, src.rows)
		if err != nil {
			return Stats{}, fmt.Errorf("copy %s: %w", table, err)
		}
		stats.Rows[table] = n
	}
	if err := tx.Commit(ctx); err != nil {
		return Stats{}, fmt.Errorf("commit load: %w", err)
	}
	return stats, nil
}

// walk returns the rows of one table, reporting progress under stage.
func (g *generator) walk(lvl level, stage string, progress func(string, int64, int64)) *rows {
	total := int64(g.customers)
	return newRows(g, lvl, func(done int) { progress(stage, int64(done), total) })
}

// querier is what ensureEmpty needs of a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ensureEmpty returns ErrNotEmpty, naming a table, if any source table has a row.
func ensureEmpty(ctx context.Context, q querier) error {
	for _, table := range source.Tables {
		var found bool
		sql := "SELECT EXISTS (SELECT 1 FROM " + pgx.Identifier{table}.Sanitize() + ")"
		if err := q.QueryRow(ctx, sql).Scan(&found); err != nil {
			return fmt.Errorf("check source table %s: %w", table, err)
		}
		if found {
			return fmt.Errorf("%s has rows: %w", table, ErrNotEmpty)
		}
	}
	return nil
}

// tableList is the source tables, comma separated, for TRUNCATE, LOCK and ANALYZE.
func tableList() string {
	names := make([]string, len(source.Tables))
	for i, t := range source.Tables {
		names[i] = pgx.Identifier{t}.Sanitize()
	}
	return strings.Join(names, ", ")
}
