package pgsearch

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// earlierColumns are the columns this release's statements read that a
// generation of an earlier release lacks, each with the expression that
// computes it from that generation's own columns: company_key as
// CompanyKey does (the first eight bytes of the id's SHA-256, big-endian,
// signed), the money in cents from numeric(14,2).
var earlierColumns = []struct{ name, expr string }{
	{"company_key", bigintOf("substring(sha256(convert_to(company_id, 'UTF8')) FROM 1 FOR 8)")},
	{"total_spent_cents", "(total_spent * 100)::bigint"},
	{"average_ticket_cents", "(average_ticket * 100)::bigint"},
}

// ServeEarlierLayout keeps a generation written by an earlier release
// readable after an upgrade: when the serving table lacks columns this
// release's statements read, it points the view at the table with those
// columns computed (earlier is true). Searches and exports then answer
// as before, without the indexes on those columns (slower), until the
// next full sync promotes a generation of this release; writes to the
// earlier generation fail until then (docs/postgres-engine.md). It is a
// no-op, earlier false, when nothing serves or the serving table has
// every column.
func (e *Engine) ServeEarlierLayout(ctx context.Context) (earlier bool, err error) {
	gen, err := e.Current(ctx)
	if err != nil || gen == "" {
		return false, err
	}
	table := e.table(gen)
	rows, err := e.pool.Query(ctx, `SELECT attname FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, quote(table))
	if err != nil {
		return false, fmt.Errorf("columns of %s: %w", table, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return false, fmt.Errorf("columns of %s: %w", table, err)
	}
	var computed []string
	for _, c := range earlierColumns {
		if !slices.Contains(names, c.name) {
			computed = append(computed, c.expr+" AS "+c.name)
		}
	}
	if len(computed) == 0 {
		return false, nil
	}
	// The view over the earlier table has its columns in the same order,
	// the computed ones after them: CREATE OR REPLACE VIEW may add columns
	// at the end.
	_, err = e.pool.Exec(ctx, "CREATE OR REPLACE VIEW "+quote(e.view)+" AS SELECT t.*, "+
		strings.Join(computed, ", ")+" FROM "+quote(table)+" t")
	if err != nil {
		return true, fmt.Errorf("serve %s of an earlier release: %w", gen, err)
	}
	return true, nil
}
