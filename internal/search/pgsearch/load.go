package pgsearch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reactivation/reactivation/internal/profile"
)

// Loading a generation (docs/postgres-engine.md): a new generation is a
// bare table with no primary key and no index, so a full sync's shards
// COPY straight into it: no delete, no index maintenance. Seal then,
// once, after the last shard and before the swap, builds every index
// (several at once), removes the rows a retried shard wrote twice, and
// adds the primary key.
// (An UNLOGGED loading table made logged at the seal was measured and
// is slower: SET LOGGED writes the whole table to the WAL again.) A table with its
// primary key is sealed; writes to it (and to the serving generation)
// replace rows by customer id as they always did.

// createLoadTable creates table as a bare loading table.
func (e *Engine) createLoadTable(ctx context.Context, table string) error {
	_, err := e.pool.Exec(ctx, tableSQL(table))
	return err
}

// copyRows appends rows to table in one COPY, a single statement: all of
// them or none. It fails with a unique violation when the table is
// sealed and holds one of the customers already.
func (e *Engine) copyRows(ctx context.Context, q interface {
	CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error)
}, table string, rows [][]any) error {
	_, err := q.CopyFrom(ctx, pgx.Identifier(strings.Split(table, ".")), Columns, pgx.CopyFromRows(rows))
	return err
}

// write writes docs into table, replacing rows of the same customers.
// Into a loading table (no key yet) and for customers a sealed table does
// not hold yet, that is one COPY; when the COPY meets a customer the
// sealed table holds, it falls back to delete-then-copy in one
// transaction, and remembers the table is sealed.
func (e *Engine) write(ctx context.Context, table string, docs []profile.Profile) error {
	if len(docs) == 0 {
		return nil
	}
	rows := make([][]any, len(docs))
	for i, p := range docs {
		rows[i] = Row(p)
	}
	if _, sealed := e.sealed.Load(table); !sealed {
		err := e.copyRows(ctx, e.pool, table, rows)
		if !uniqueViolation(err) {
			if err != nil {
				return fmt.Errorf("write %s: %w", table, err)
			}
			return nil
		}
		e.sealed.Store(table, true)
	}
	ids := make([]string, len(docs))
	for i, p := range docs {
		ids[i] = p.CustomerID
	}
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM "+quote(table)+" WHERE customer_id = ANY($1)", ids); err != nil {
			return fmt.Errorf("write %s: %w", table, err)
		}
		if err := e.copyRows(ctx, tx, table, rows); err != nil {
			return fmt.Errorf("write %s: %w", table, err)
		}
		return nil
	})
}

// sealParallelism is how many of a table's indexes seal builds at once,
// each on its own connection: PostgreSQL builds a GIN index on one core,
// and nothing else writes while a full sync seals.
const sealParallelism = 2

// seal turns a loading table into a serving one, once: it builds the
// unique index on customer_id and the secondary indexes (sealParallelism
// at a time); when a retried shard left a customer's rows twice, it keeps
// the one with the highest source_version (on a tie, the one written
// last) and builds the unique index again; then, holding the table
// exclusively, it makes that index the primary key. A table with its
// primary key is sealed and is left as it is, so seal may run on every
// Count and Promote; one interrupted resumes: every build is a no-op when
// its index exists.
func (e *Engine) seal(ctx context.Context, table string) error {
	if _, ok := e.sealed.Load(table); ok {
		return nil
	}
	sealed, err := e.hasPrimaryKey(ctx, e.pool, table)
	if err != nil {
		return fmt.Errorf("seal %s: %w", table, err)
	}
	if !sealed {
		if err := e.sealTable(ctx, table); err != nil {
			return fmt.Errorf("seal %s: %w", table, err)
		}
	}
	e.sealed.Store(table, true)
	return nil
}

func (e *Engine) sealTable(ctx context.Context, table string) error {
	err := e.buildIndexes(ctx, IndexSQL(table))
	if uniqueViolation(err) {
		t := quote(table)
		_, err = e.pool.Exec(ctx, `DELETE FROM `+t+` a USING `+t+` b
			WHERE a.customer_id = b.customer_id AND (a.source_version, a.ctid) < (b.source_version, b.ctid)`)
		if err != nil {
			return fmt.Errorf("remove rows written twice: %w", err)
		}
		err = e.buildIndexes(ctx, IndexSQL(table)[:1])
	}
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "LOCK TABLE "+quote(table)+" IN ACCESS EXCLUSIVE MODE"); err != nil {
			return err
		}
		if sealed, err := e.hasPrimaryKey(ctx, tx, table); err != nil || sealed {
			return err
		}
		if _, err := tx.Exec(ctx, primaryKeySQL(table)); err != nil {
			return fmt.Errorf("primary key: %w", err)
		}
		return nil
	})
}

// buildIndexes runs the index builds stmts, sealParallelism at a time, and
// returns the first error (a unique violation, if any build met one).
func (e *Engine) buildIndexes(ctx context.Context, stmts []string) error {
	next := make(chan string)
	errc := make(chan error, len(stmts))
	var wg sync.WaitGroup
	for range min(sealParallelism, len(stmts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range next {
				if _, err := e.pool.Exec(ctx, s); err != nil {
					errc <- fmt.Errorf("build index: %w", err)
				}
			}
		}()
	}
	for _, s := range stmts {
		next <- s
	}
	close(next)
	wg.Wait()
	close(errc)
	var first error
	for err := range errc {
		if first == nil || uniqueViolation(err) && !uniqueViolation(first) {
			first = err
		}
	}
	return first
}

// hasPrimaryKey reports whether table has its primary key: it is sealed.
func (e *Engine) hasPrimaryKey(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, table string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = $1::regclass AND indisprimary)", quote(table)).Scan(&ok)
	return ok, err
}

// uniqueViolation reports the error of a duplicate key.
func uniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
