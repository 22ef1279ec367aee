package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Change tracking by transaction ids (docs/change-tracking.md): a row
// version's xmin is the transaction that wrote it, so every row written
// since a snapshot S has xmin >= S.xmin, however long its transaction ran
// and whatever either clock says. Deletes and rows moved away leave no row
// to see: they show as lower counts per customer than the index's
// documents were computed from.

// Snapshot is a source transaction snapshot, as pg_current_snapshot()
// prints it: xmin:xmax:xip,... with 64-bit (epoch-qualified) ids.
type Snapshot struct {
	Xmin, Xmax int64
	Text       string
}

// ParseSnapshot reads pg_current_snapshot()'s text form.
func ParseSnapshot(s string) (Snapshot, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 {
		return Snapshot{}, fmt.Errorf("snapshot %q: want xmin:xmax:xip", s)
	}
	xmin, err1 := strconv.ParseInt(parts[0], 10, 64)
	xmax, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return Snapshot{}, fmt.Errorf("snapshot %q: not numbers", s)
	}
	return Snapshot{Xmin: xmin, Xmax: xmax, Text: s}, nil
}

// CurrentSnapshot returns the source's current snapshot.
func CurrentSnapshot(ctx context.Context, pool *pgxpool.Pool) (Snapshot, error) {
	var s string
	if err := pool.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&s); err != nil {
		return Snapshot{}, fmt.Errorf("source snapshot: %w", err)
	}
	return ParseSnapshot(s)
}

// fullXid widens a 32-bit xid column to the 64-bit id it stands for,
// given $1, the 64-bit xmax of the reading snapshot: an xid above xmax's
// low half belongs to the previous epoch. Unfrozen row versions are never
// more than 2^31 transactions old, so the widening is exact for them; a
// frozen version reads as xid 2, which widens to an old id.
func fullXid(col string) string {
	return "((CASE WHEN " + col + "::text::bigint <= ($1::bigint & 4294967295) THEN $1::bigint >> 32 ELSE ($1::bigint >> 32) - 1 END << 32) + " +
		col + "::text::bigint)"
}

// Changes is what ReadChanges found, all as of one source snapshot.
type Changes struct {
	// Snapshot is the snapshot the changes were read in; the next pass
	// reads from it.
	Snapshot Snapshot
	// Written lists the customers whose row, invoices or invoice lines
	// were written by a transaction id >= the previous snapshot's xmin
	// (a superset of the changes: also those of transactions that
	// snapshot already saw).
	Written []string
	// Products is every product's fingerprint: its name and ingredient
	// names.
	Products map[string]string
}

// CustomerCounts is one customer's invoices and invoice lines in the source.
type CustomerCounts struct {
	CustomerID string
	Invoices   int64
	Lines      int64
}

// ReadChanges reads, in one REPEATABLE READ READ ONLY transaction, the
// customers written since since.Xmin and the catalog's fingerprints, and
// calls counts with every customer's counts in customer_id byte order
// (COLLATE "C"). It writes nothing to the source.
func ReadChanges(ctx context.Context, pool *pgxpool.Pool, since Snapshot, counts func(CustomerCounts) error) (Changes, error) {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return Changes{}, fmt.Errorf("read changes: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var text string
	if err := tx.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&text); err != nil {
		return Changes{}, fmt.Errorf("read changes: snapshot: %w", err)
	}
	var ch Changes
	if ch.Snapshot, err = ParseSnapshot(text); err != nil {
		return Changes{}, err
	}
	rows, err := tx.Query(ctx, `
		SELECT customer_id FROM customers WHERE `+fullXid("xmin")+` >= $2
		UNION
		SELECT customer_id FROM invoices WHERE `+fullXid("xmin")+` >= $2
		UNION
		SELECT i.customer_id FROM invoice_products ip JOIN invoices i ON i.invoice_id = ip.invoice_id
		WHERE `+fullXid("ip.xmin")+` >= $2`, ch.Snapshot.Xmax, since.Xmin)
	if err != nil {
		return Changes{}, fmt.Errorf("read changes: written rows: %w", err)
	}
	if ch.Written, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return Changes{}, fmt.Errorf("read changes: written rows: %w", err)
	}
	catalog, err := LoadCatalog(ctx, tx)
	if err != nil {
		return Changes{}, err
	}
	ch.Products = catalog.Fingerprints()
	rows, err = tx.Query(ctx, `
		SELECT c.customer_id, coalesce(iv.n, 0), coalesce(ln.n, 0)
		FROM customers c
		LEFT JOIN (SELECT customer_id, count(*) AS n FROM invoices GROUP BY customer_id) iv ON iv.customer_id = c.customer_id
		LEFT JOIN (SELECT i.customer_id, count(ip.product_id) AS n FROM invoice_products ip
		           JOIN invoices i ON i.invoice_id = ip.invoice_id GROUP BY i.customer_id) ln ON ln.customer_id = c.customer_id
		ORDER BY c.customer_id COLLATE "C"`)
	if err != nil {
		return Changes{}, fmt.Errorf("read changes: counts: %w", err)
	}
	var c CustomerCounts
	_, err = pgx.ForEachRow(rows, []any{&c.CustomerID, &c.Invoices, &c.Lines}, func() error { return counts(c) })
	if err != nil {
		return Changes{}, fmt.Errorf("read changes: counts: %w", err)
	}
	return ch, nil
}

// Fingerprints returns every product's fingerprint: a hash of its name
// and its ingredient names, which changes when the product or one of its
// ingredients is renamed or its recipe changes.
func (c *Catalog) Fingerprints() map[string]string {
	out := make(map[string]string, len(c.products))
	for id, p := range c.products {
		ingr := append([]string(nil), p.ingredients...)
		sort.Strings(ingr)
		h := sha256.Sum256([]byte(p.name + "\x00" + strings.Join(ingr, "\x00")))
		out[id] = hex.EncodeToString(h[:16])
	}
	return out
}
