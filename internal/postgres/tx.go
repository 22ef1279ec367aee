package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// querier is what the adapters run statements on: the pool, or the
// transaction the context carries.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

type txKey struct{}

// conn returns the transaction ctx carries (see inTx), or the pool. Every
// adapter method runs its statements on it, so the statements of several
// domains (a job and its export row) commit together when a caller wraps
// them in one InTx.
func conn(ctx context.Context, pool *pgxpool.Pool) querier {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return tx
	}
	return pool
}

// inTx runs f in a transaction carried by the context it is given: every
// adapter statement run with that context joins it. A context already in a
// transaction runs f in it (a savepoint would be pointless: the outer
// transaction decides). It commits when f returns nil and rolls back
// otherwise.
func inTx(ctx context.Context, pool *pgxpool.Pool, f func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return f(ctx)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return translate(err, "begin transaction")
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := f(context.WithValue(ctx, txKey{}, tx)); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return translate(err, "commit")
	}
	return nil
}

// Tx runs f in one transaction of the service database: every adapter of
// this package called with the context f receives commits or rolls back
// with it. Adapters built on the same pool share it.
type Tx struct{ pool *pgxpool.Pool }

// NewTx returns the transaction runner of pool.
func NewTx(pool *pgxpool.Pool) *Tx { return &Tx{pool: pool} }

// InTx runs f in a transaction (see inTx).
func (t *Tx) InTx(ctx context.Context, f func(ctx context.Context) error) error {
	if err := inTx(ctx, t.pool, f); err != nil {
		return fmt.Errorf("transaction: %w", err)
	}
	return nil
}
