package pgsearch

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/reactivation/reactivation/internal/search"
)

// Fingerprints reads the key range's fingerprints from the serving
// generation in one statement (a shard is tens of thousands of narrow
// rows), in customer id order (COLLATE "C", byte order).
func (e *Engine) Fingerprints(ctx context.Context, lo, hi string, fn func([]search.Fingerprint) error) error {
	gen, err := e.Current(ctx)
	if err != nil || gen == "" {
		return err
	}
	// Each bound one the index scan can use in a generic plan too (a
	// prepared statement's after its fifth run): an upper bound ORed with
	// "none" read the table from lo to its end at every range.
	where, args := `customer_id > $1 ORDER BY customer_id`, []any{lo}
	if hi != "" {
		where, args = `customer_id > $1 AND customer_id <= $2 ORDER BY customer_id`, []any{lo, hi}
	}
	out, err := e.fingerprints(ctx, gen, where, args...)
	if err != nil || len(out) == 0 {
		return err
	}
	return fn(out)
}

// FingerprintsOf reads the fingerprints of the listed customers.
func (e *Engine) FingerprintsOf(ctx context.Context, ids []string) ([]search.Fingerprint, error) {
	gen, err := e.Current(ctx)
	if err != nil || gen == "" {
		return nil, err
	}
	return e.fingerprints(ctx, gen, `customer_id = ANY($1)`, ids)
}

func (e *Engine) fingerprints(ctx context.Context, gen, where string, args ...any) ([]search.Fingerprint, error) {
	rows, err := e.pool.Query(ctx, `SELECT customer_id, company_id, fingerprint, source_version FROM `+
		quote(e.table(gen))+` WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read fingerprints: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (search.Fingerprint, error) {
		var f search.Fingerprint
		err := r.Scan(&f.CustomerID, &f.CompanyID, &f.Fingerprint, &f.Version)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("read fingerprints: %w", err)
	}
	return out, nil
}
