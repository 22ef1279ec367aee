package pgsearch

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// Statement is one SQL statement with its arguments.
type Statement struct {
	SQL  string
	Args []any
}

// Statements returns the statements Search runs for q, in its order and
// in one read-only repeatable-read transaction: the exact total, then the
// page (one row more than asked). They are what a caller times straight
// through pgx to see the engine's own cost without the decoding.
func (e *Engine) Statements(q search.Query) ([]Statement, error) {
	plan, err := segment.NewPlan(q.Filter, q.Sort, q.Size, segment.DefaultSize, q.Cursor, q.Now, q.Location)
	if err != nil {
		return nil, err
	}
	return e.statements(plan)
}

func (e *Engine) statements(plan segment.Plan) ([]Statement, error) {
	where, args := Where(plan.Filter, plan.Bounds)
	page, pageArgs, err := e.pageSQL(plan, plan.Size+1)
	if err != nil {
		return nil, err
	}
	return []Statement{{"SELECT count(*) FROM " + quote(e.view) + " WHERE " + where, args}, {page, pageArgs}}, nil
}

// RunStatements runs stmts as Search runs them, in one read-only
// repeatable-read transaction, reading every row's columns as raw bytes.
func RunStatements(ctx context.Context, db interface {
	BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
}, stmts []Statement) error {
	return pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		for _, s := range stmts {
			rows, err := tx.Query(ctx, s.SQL, s.Args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				_ = rows.RawValues()
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
}
