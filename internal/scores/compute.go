package scores

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
)

// Compute reads the source once, at the grain of customers (one aggregate
// over invoices: distinct invoices, cents spent, first and last purchase),
// and returns every company's model at asOf: RFM cuts over its customers
// with a purchase and the BG/NBD fit. A company whose model does not fit
// gets a model without Params and the reason in Fallback; other errors
// are returned.
func Compute(ctx context.Context, src *pgxpool.Pool, asOf time.Time, loc *time.Location, cfg FitConfig) (map[string]*Model, error) {
	type population struct {
		recency, frequency, monetary []int64
		customers                    []Customer
	}
	pops := map[string]*population{}
	models := map[string]*Model{}
	bd := BusinessDate(asOf, loc)
	// Both reads in one snapshot, so the companies' counts are of the
	// customers whose purchases were read.
	tx, err := src.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("scores: read purchases: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Grouped in the order of the invoices' customer index, not hashed:
	// the parallel workers of a hash aggregate each get a third of every
	// customer's invoices and reduce nothing, and the final hash spills
	// (800k customers: 2.7 s of wall time and 4.1 s of CPU, against 3.4 s
	// and 4.9 s; docs/capacity.md).
	if _, err := tx.Exec(ctx, "SET LOCAL enable_hashagg = off"); err != nil {
		return nil, fmt.Errorf("scores: read purchases: %w", err)
	}
	rows, err := tx.Query(ctx, `
		SELECT c.company_id, a.n, a.cents, a.first, a.last FROM (
			SELECT customer_id, count(*), sum((total_amount * 100)::bigint)::bigint, min(invoice_date), max(invoice_date)
			FROM invoices GROUP BY customer_id
		) a (customer_id, n, cents, first, last)
		JOIN customers c ON c.customer_id = a.customer_id`)
	if err != nil {
		return nil, fmt.Errorf("scores: read purchases: %w", err)
	}
	// The sum is cast back to bigint in SQL (sum of bigint is numeric,
	// which pgx decodes through math/big) and the company is read as the
	// driver's bytes, made a string once per company.
	var company pgtype.DriverBytes
	var n, cents int64
	var first, last time.Time
	for rows.Next() {
		if err := rows.Scan(&company, &n, &cents, &first, &last); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scores: read purchases: %w", err)
		}
		p := pops[string(company)]
		if p == nil {
			p = &population{}
			pops[string(company)] = p
		}
		p.recency = append(p.recency, -RecencyDays(last, bd, loc))
		p.frequency = append(p.frequency, n)
		p.monetary = append(p.monetary, cents)
		p.customers = append(p.customers, NewCustomer(n, first, last, asOf))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scores: read purchases: %w", err)
	}
	rows, err = tx.Query(ctx, "SELECT company_id, count(*) FROM customers GROUP BY company_id")
	if err != nil {
		return nil, fmt.Errorf("scores: count customers: %w", err)
	}
	for rows.Next() {
		var company string
		var n int64
		if err := rows.Scan(&company, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scores: count customers: %w", err)
		}
		models[company] = &Model{CompanyID: company, AsOf: asOf, BusinessDate: bd, Prospects: n,
			Groups: map[string]int64{}}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scores: count customers: %w", err)
	}
	// Companies are modelled at once, one a core: the fits are what the
	// shards wait for (docs/scores.md).
	companies := make([]string, 0, len(models))
	for c := range models {
		companies = append(companies, c)
	}
	sort.Strings(companies)
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, company := range companies {
		m, p := models[company], pops[company]
		if p == nil {
			m.Groups[GroupProspects] = m.Prospects
			m.Fallback = "no customer has a purchase"
			continue
		}
		g.Go(func() error {
			if err := model(m, p.recency, p.frequency, p.monetary, p.customers, cfg); err != nil {
				return fmt.Errorf("scores: fit %s: %w", company, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return models, nil
}

// model fills m from its company's customers with a purchase: their
// recency, frequency and monetary values (sorted in place) and their
// BG/NBD summaries.
func model(m *Model, recency, frequency, monetary []int64, customers []Customer, cfg FitConfig) error {
	m.Customers = int64(len(frequency))
	m.Prospects -= m.Customers
	m.Groups[GroupProspects] = m.Prospects
	// Group sizes before NewCuts sorts the values in place.
	rf := make([][2]int64, len(recency))
	for i := range rf {
		rf[i] = [2]int64{recency[i], frequency[i]}
	}
	m.Recency, _ = NewCuts(recency)
	m.Frequency, _ = NewCuts(frequency)
	m.Monetary, _ = NewCuts(monetary)
	for _, v := range rf {
		m.Groups[Group(m.Recency.Score(v[0]), m.Frequency.Score(v[1]))]++
	}
	start := time.Now()
	params, err := Fit(customers, cfg)
	m.FitSeconds = time.Since(start).Seconds()
	switch {
	case errors.Is(err, ErrNoFit):
		m.Fallback = err.Error()
	case err != nil:
		return err
	default:
		m.Params = &params
	}
	return nil
}
