package pgsearch

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/profile"
)

// The indexing half of Engine: a generation is a table named
// <view>_<generation>; the view selects from the serving one, and a small
// table remembers which that is.

var generationName = regexp.MustCompile(`^[0-9]{8}t[0-9]{6}_[0-9a-f]{6}$`)

func (e *Engine) table(gen string) string { return e.view + "_" + gen }

// servingTable remembers each view's serving generation.
func (e *Engine) servingTable() string {
	schema, _, ok := strings.Cut(e.view, ".")
	if ok {
		return schema + ".search_generations"
	}
	return "search_generations"
}

func (e *Engine) ensureServingTable(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}) error {
	_, err := q.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+quote(e.servingTable())+" (view text PRIMARY KEY, generation text NOT NULL)")
	return err
}

// CreateGeneration creates the generation's table, loading (see seal);
// an existing one is a Conflict.
func (e *Engine) CreateGeneration(ctx context.Context, gen string) error {
	err := e.createLoadTable(ctx, e.table(gen))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P07" {
		return errs.E(errs.Conflict, "table %s exists", e.table(gen))
	}
	if err != nil {
		return fmt.Errorf("create generation %s: %w", gen, err)
	}
	return nil
}

// Index writes docs into generation gen, replacing rows of the same
// customers, all or none. Into a loading generation a customer written
// twice (a retried shard) keeps its newest row when Count or Promote
// seals it.
func (e *Engine) Index(ctx context.Context, gen string, docs []profile.Profile) error {
	return e.write(ctx, e.table(gen), docs)
}

// Count seals generation gen (see seal) and counts its rows.
func (e *Engine) Count(ctx context.Context, gen string) (int64, error) {
	if err := e.seal(ctx, e.table(gen)); err != nil {
		return 0, err
	}
	return e.Documents(ctx, gen)
}

// Documents counts generation gen's rows, reading only: a loading
// generation stays loading, and a customer a retried shard wrote twice
// counts twice until it is sealed.
func (e *Engine) Documents(ctx context.Context, gen string) (int64, error) {
	var n int64
	err := e.pool.QueryRow(ctx, "SELECT count(*) FROM "+quote(e.table(gen))).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count generation %s: %w", gen, err)
	}
	return n, nil
}

// Promote seals gen (see seal), points the view at it and drops older
// generations, in one transaction: readers see the old table or the new
// one, never neither.
func (e *Engine) Promote(ctx context.Context, gen string) error {
	if err := e.seal(ctx, e.table(gen)); err != nil {
		return err
	}
	if _, err := e.pool.Exec(ctx, "ANALYZE "+quote(e.table(gen))); err != nil {
		return fmt.Errorf("analyze %s: %w", gen, err)
	}
	olds, err := e.generations(ctx)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if err := e.ensureServingTable(ctx, tx); err != nil {
			return err
		}
		if err := e.pruneTombstones(ctx, tx); err != nil {
			return err
		}
		if err := e.serve(ctx, tx, gen); err != nil {
			return fmt.Errorf("swap view to %s: %w", gen, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+quote(e.servingTable())+" (view, generation) VALUES ($1, $2) ON CONFLICT (view) DO UPDATE SET generation = $2",
			e.view, gen); err != nil {
			return err
		}
		for _, old := range olds {
			if old != gen {
				if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+quote(e.table(old))); err != nil {
					return fmt.Errorf("drop generation %s: %w", old, err)
				}
			}
		}
		return nil
	})
}

// serve points the view at gen's table within tx. When the tables'
// columns differ (a generation written by another release), CREATE OR
// REPLACE VIEW refuses, and the view is dropped and created again in the
// same transaction.
func (e *Engine) serve(ctx context.Context, tx pgx.Tx, gen string) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	_, err = sp.Exec(ctx, ServeSQL(e.view, e.table(gen)))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || (pgErr.Code != "42P16" && pgErr.Code != "42804") {
		if err != nil {
			_ = sp.Rollback(ctx)
			return err
		}
		return sp.Commit(ctx)
	}
	if err := sp.Rollback(ctx); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "DROP VIEW IF EXISTS "+quote(e.view)); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, ServeSQL(e.view, e.table(gen)))
	return err
}

// Current returns the serving generation, "" when none.
func (e *Engine) Current(ctx context.Context) (string, error) {
	if err := e.ensureServingTable(ctx, e.pool); err != nil {
		return "", err
	}
	var gen string
	err := e.pool.QueryRow(ctx, "SELECT generation FROM "+quote(e.servingTable())+" WHERE view = $1", e.view).Scan(&gen)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return gen, err
}

// DropGeneration drops a generation's table.
func (e *Engine) DropGeneration(ctx context.Context, gen string) error {
	_, err := e.pool.Exec(ctx, "DROP TABLE IF EXISTS "+quote(e.table(gen)))
	return err
}

// generations lists the generation tables of the view.
func (e *Engine) generations(ctx context.Context) ([]string, error) {
	schema, name, ok := strings.Cut(e.view, ".")
	if !ok {
		name, schema = e.view, ""
	}
	rows, err := e.pool.Query(ctx, `SELECT tablename FROM pg_tables
		WHERE ($1 = '' AND schemaname = current_schema()) OR schemaname = $1`, schema)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var gens []string
	for _, n := range names {
		if g, ok := strings.CutPrefix(n, name+"_"); ok && generationName.MatchString(g) {
			gens = append(gens, g)
		}
	}
	return gens, nil
}
