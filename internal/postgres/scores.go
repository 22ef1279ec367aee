package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/scores"
)

// Scores keeps score_models, the fitted models of each index generation
// (scores.Repository). Safe for concurrent use.
type Scores struct{ db *pgxpool.Pool }

var _ scores.Repository = (*Scores)(nil)

// NewScores returns the score model repository of the service database.
func NewScores(db *pgxpool.Pool) *Scores { return &Scores{db: db} }

// SaveModels implements scores.Repository.
func (r *Scores) SaveModels(ctx context.Context, gen string, models []*scores.Model) error {
	return inTx(ctx, r.db, func(ctx context.Context) error {
		q := conn(ctx, r.db)
		if _, err := q.Exec(ctx, "DELETE FROM score_models WHERE generation = $1", gen); err != nil {
			return translate(err, "replace score models")
		}
		for _, m := range models {
			groups, err := json.Marshal(m.Groups)
			if err != nil {
				return err
			}
			var rr, alpha, a, b *float64
			if m.Params != nil {
				rr, alpha, a, b = &m.Params.R, &m.Params.Alpha, &m.Params.A, &m.Params.B
			}
			var fallback *string
			if m.Fallback != "" {
				fallback = &m.Fallback
			}
			if _, err := q.Exec(ctx, `INSERT INTO score_models (generation, company_id, as_of, business_date, customers, prospects,
				recency_cuts, frequency_cuts, monetary_cuts, groups, r, alpha, a, b, fallback, fit_seconds)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
				gen, m.CompanyID, m.AsOf, m.BusinessDate, m.Customers, m.Prospects,
				m.Recency[:], m.Frequency[:], m.Monetary[:], groups, rr, alpha, a, b, fallback, m.FitSeconds); err != nil {
				return translate(err, "insert score model")
			}
		}
		return nil
	})
}

// HasModels implements scores.Repository.
func (r *Scores) HasModels(ctx context.Context, gen string) (bool, error) {
	var ok bool
	err := conn(ctx, r.db).QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM score_models WHERE generation = $1)", gen).Scan(&ok)
	return ok, translate(err, "score models")
}

// LoadModels implements scores.Repository.
func (r *Scores) LoadModels(ctx context.Context, gen string) ([]*scores.Model, error) {
	rows, err := conn(ctx, r.db).Query(ctx, `SELECT company_id, as_of, business_date, customers, prospects,
		recency_cuts, frequency_cuts, monetary_cuts, groups, r, alpha, a, b, coalesce(fallback, ''), fit_seconds
		FROM score_models WHERE generation = $1`, gen)
	if err != nil {
		return nil, translate(err, "load score models")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*scores.Model, error) {
		var m scores.Model
		var rc, fc, mc []int64
		var rr, alpha, a, b *float64
		if err := row.Scan(&m.CompanyID, &m.AsOf, &m.BusinessDate, &m.Customers, &m.Prospects,
			&rc, &fc, &mc, &m.Groups, &rr, &alpha, &a, &b, &m.Fallback, &m.FitSeconds); err != nil {
			return nil, err
		}
		if len(rc) != len(m.Recency) || len(fc) != len(m.Frequency) || len(mc) != len(m.Monetary) {
			return nil, fmt.Errorf("company %s has malformed cuts", m.CompanyID)
		}
		copy(m.Recency[:], rc)
		copy(m.Frequency[:], fc)
		copy(m.Monetary[:], mc)
		if rr != nil && alpha != nil && a != nil && b != nil {
			m.Params = &scores.Params{R: *rr, Alpha: *alpha, A: *a, B: *b}
		}
		return &m, nil
	})
	return out, translate(err, "load score models")
}

// PruneModels implements scores.Repository.
func (r *Scores) PruneModels(ctx context.Context, keep string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "DELETE FROM score_models WHERE generation <> $1", keep)
	return translate(err, "prune score models")
}
