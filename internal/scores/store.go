package scores

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/errs"
)

// Store keeps models in the service database, per generation. Safe for
// concurrent use.
type Store struct {
	db *pgxpool.Pool
}

// NewStore returns a Store over the service database.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Save writes the models of generation gen, replacing any it had.
func (s *Store) Save(ctx context.Context, gen string, models map[string]*Model) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM score_models WHERE generation = $1", gen); err != nil {
			return err
		}
		for _, m := range models {
			groups, err := json.Marshal(m.Groups)
			if err != nil {
				return err
			}
			var r, alpha, a, b *float64
			if m.Params != nil {
				r, alpha, a, b = &m.Params.R, &m.Params.Alpha, &m.Params.A, &m.Params.B
			}
			var fallback *string
			if m.Fallback != "" {
				fallback = &m.Fallback
			}
			if _, err := tx.Exec(ctx, `INSERT INTO score_models (generation, company_id, as_of, business_date, customers, prospects,
				recency_cuts, frequency_cuts, monetary_cuts, groups, r, alpha, a, b, fallback, fit_seconds)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
				gen, m.CompanyID, m.AsOf, m.BusinessDate, m.Customers, m.Prospects,
				m.Recency[:], m.Frequency[:], m.Monetary[:], groups, r, alpha, a, b, fallback, m.FitSeconds); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scores: save generation %s: %w", gen, err)
	}
	return nil
}

// Has reports whether generation gen has saved models.
func (s *Store) Has(ctx context.Context, gen string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM score_models WHERE generation = $1)", gen).Scan(&ok)
	return ok, err
}

// Load returns the models of generation gen, scoring days in loc. A
// generation without models is an empty Set (no scores).
func (s *Store) Load(ctx context.Context, gen string, loc *time.Location) (*Set, error) {
	rows, err := s.db.Query(ctx, `SELECT company_id, as_of, business_date, customers, prospects,
		recency_cuts, frequency_cuts, monetary_cuts, groups, r, alpha, a, b, coalesce(fallback, ''), fit_seconds
		FROM score_models WHERE generation = $1`, gen)
	if err != nil {
		return nil, fmt.Errorf("scores: load generation %s: %w", gen, err)
	}
	defer rows.Close()
	set := &Set{Generation: gen, Models: map[string]*Model{}, Location: loc}
	for rows.Next() {
		var m Model
		var rc, fc, mc []int64
		var r, alpha, a, b *float64
		if err := rows.Scan(&m.CompanyID, &m.AsOf, &m.BusinessDate, &m.Customers, &m.Prospects,
			&rc, &fc, &mc, &m.Groups, &r, &alpha, &a, &b, &m.Fallback, &m.FitSeconds); err != nil {
			return nil, fmt.Errorf("scores: load generation %s: %w", gen, err)
		}
		if len(rc) != len(m.Recency) || len(fc) != len(m.Frequency) || len(mc) != len(m.Monetary) {
			return nil, fmt.Errorf("scores: load generation %s: company %s has malformed cuts", gen, m.CompanyID)
		}
		copy(m.Recency[:], rc)
		copy(m.Frequency[:], fc)
		copy(m.Monetary[:], mc)
		if r != nil && alpha != nil && a != nil && b != nil {
			m.Params = &Params{R: *r, Alpha: *alpha, A: *a, B: *b}
		}
		set.Models[m.CompanyID] = &m
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scores: load generation %s: %w", gen, err)
	}
	return set, nil
}

// Company returns the model of company in generation gen; a generation
// or company without one is errs.NotFound.
func (s *Store) Company(ctx context.Context, gen, company string, loc *time.Location) (*Model, error) {
	set, err := s.Load(ctx, gen, loc)
	if err != nil {
		return nil, err
	}
	m, ok := set.Models[company]
	if !ok {
		return nil, errs.E(errs.NotFound, "no scores for company %q: run a full sync with scores enabled", company)
	}
	return m, nil
}

// Prune deletes the models of every generation but keep.
func (s *Store) Prune(ctx context.Context, keep string) error {
	if _, err := s.db.Exec(ctx, "DELETE FROM score_models WHERE generation <> $1", keep); err != nil {
		return fmt.Errorf("scores: prune: %w", err)
	}
	return nil
}
