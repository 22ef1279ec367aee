package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/internal/syncrun"
)

func init() {
	Register(Scenario{
		Name: "reconcile",
		Description: "full sync, then 0.1% of the customers made wrong in the index in every kind (missing, extra, stale; " +
			"changed in the source behind change tracking's back and in the index); one reconcile must find and repair " +
			"exactly them, a second none; reconcile time against the full sync's",
		Run: runReconcile,
	})
}

// benchProduct is the menu item the scenario adds (and removes when it
// restores the source): lines of it change a buyer's profile for sure.
const benchProduct = "PBENCH"

// drift is the scenario's plan: which customers go wrong, and how.
type drift struct {
	// existing customers, each in exactly one kind.
	unindexed []string // document deleted from the index: missing
	erased    []string // deleted from the source with invoices and lines: extra
	edited    []string // city changed, updated_at kept: stale
	voided    []string // one invoice deleted with its lines: stale
	repriced  []string // one invoice's total changed: stale
	extended  []string // a line of a new product added to one invoice: stale
	moved     []string // pairs (from, to): one invoice moved between them, both stale
	corrupted []string // document overwritten with wrong totals: stale
	// ids no customer had.
	added []string // new customers in the source: missing
	fakes []string // documents of nobody in the index: extra
}

// want is the reconcile result the plan must produce.
func (p drift) want() syncrun.Drift {
	d := syncrun.Drift{
		Missing: int64(len(p.unindexed) + len(p.added)),
		Extra:   int64(len(p.erased) + len(p.fakes)),
		Stale:   int64(len(p.edited) + len(p.voided) + len(p.repriced) + len(p.extended) + len(p.moved) + len(p.corrupted)),
	}
	d.Repaired = d.Missing + d.Extra + d.Stale
	return d
}

// existing lists every existing customer the plan touches.
func (p drift) existing() []string {
	var out []string
	for _, s := range [][]string{p.unindexed, p.erased, p.edited, p.voided, p.repriced, p.extended, p.moved, p.corrupted} {
		out = append(out, s...)
	}
	return out
}

// runReconcile measures a reconcile pass against the full sync of the same
// run, on the scenario's own data and index (--engine picks the engine).
// The source is changed in place and restored at the end (and at the start
// of the next run, if this one stopped before).
func runReconcile(ctx context.Context, env Env, r *Report) error {
	r.Engine = env.Engine
	cfg, err := dataConfig(ctx, env)
	if err != nil {
		return err
	}
	switch {
	case env.Engine == EnginePostgres:
		cfg.ElasticsearchURL = ""
	case cfg.ElasticsearchURL == "":
		return errors.New("--engine elastic needs ELASTICSEARCH_URL")
	}
	cfg.WorkerConcurrency = 4
	d, err := openScenario(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := restoreSource(ctx, d.Source); err != nil {
		return err
	}
	stop, err := runWorker(ctx, cfg)
	if err != nil {
		return err
	}
	defer stop()

	fmt.Fprintln(env.Out, "full sync ...")
	_, full, err := timeFullSync(ctx, d, r)
	if err != nil {
		return err
	}

	plan, err := planDrift(ctx, d.Source, max(env.Customers/1000, 10), env.Seed)
	if err != nil {
		return err
	}
	want := plan.want()
	fmt.Fprintf(env.Out, "drift: %d missing, %d extra, %d stale ...\n", want.Missing, want.Extra, want.Stale)
	defer func() {
		if err := restoreSource(context.WithoutCancel(ctx), d.Source); err != nil {
			fmt.Fprintf(env.Out, "restore the source: %v\n", err)
		}
	}()
	if err := applyDrift(ctx, d, plan); err != nil {
		return err
	}

	fmt.Fprintln(env.Out, "reconcile ...")
	got, took, err := reconcileOnce(ctx, d)
	if err != nil {
		return err
	}
	r.Add("drift_missing", float64(got.Missing), "documents")
	r.Add("drift_extra", float64(got.Extra), "documents")
	r.Add("drift_stale", float64(got.Stale), "documents")
	r.Add("drift_repaired", float64(got.Repaired), "documents")
	r.Add("reconcile_checked", float64(got.Checked), "documents")
	r.Add("reconcile_seconds", took.Seconds(), "s")
	got.Checked = 0
	if got != want {
		return fmt.Errorf("reconcile found %+v, the scenario made %+v", got, want)
	}
	fmt.Fprintln(env.Out, "second reconcile ...")
	again, took2, err := reconcileOnce(ctx, d)
	if err != nil {
		return err
	}
	r.Add("second_reconcile_seconds", took2.Seconds(), "s")
	if again.Missing+again.Extra+again.Stale+again.Repaired != 0 {
		return fmt.Errorf("a second reconcile still found %+v", again)
	}
	r.Add("reconcile_vs_full_sync", took.Seconds()/full.Seconds(), "ratio")
	r.AtMost("reconcile_over_full_sync", took.Seconds()/full.Seconds(), 0.25)
	return nil
}

// reconcileOnce runs one reconcile pass on d's workers and returns its
// result and its time as the job row records it.
func reconcileOnce(ctx context.Context, d *app.App) (syncrun.Drift, time.Duration, error) {
	var out syncrun.Drift
	job, err := d.Sync.Start(ctx, syncrun.ModeReconcile, jobs.Tenant{Admin: true}, "bench")
	if err != nil {
		return out, 0, err
	}
	done, err := waitFinal(ctx, d.Jobs, job.ID, fullSyncTimeout)
	if err != nil {
		return out, 0, err
	}
	if done.State != jobs.Succeeded {
		return out, 0, fmt.Errorf("reconcile %s: %s", done.State, done.Error)
	}
	if err := json.Unmarshal(done.Result, &out); err != nil {
		return out, 0, fmt.Errorf("reconcile result: %w", err)
	}
	return out, done.FinishedAt.Sub(*done.StartedAt), nil
}

// planDrift picks total customers with purchases, in an order fixed by
// seed, and splits them over the kinds of drift; two of every ten are ids
// no customer has (new customers, fake documents).
func planDrift(ctx context.Context, pool *pgxpool.Pool, total int, seed int64) (drift, error) {
	each := max(total/10, 1)
	rows, err := pool.Query(ctx, `SELECT c.customer_id FROM customers c
		WHERE EXISTS (SELECT 1 FROM invoices i WHERE i.customer_id = c.customer_id)
		ORDER BY md5(c.customer_id || $1::text) LIMIT $2`, fmt.Sprint(seed), 9*each)
	if err != nil {
		return drift{}, fmt.Errorf("pick customers: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return drift{}, fmt.Errorf("pick customers: %w", err)
	}
	if len(ids) < 9*each {
		return drift{}, fmt.Errorf("the source has %d customers with purchases, the scenario needs %d", len(ids), 9*each)
	}
	take := func(n int) []string {
		out := ids[:n]
		ids = ids[n:]
		return out
	}
	p := drift{unindexed: take(each), erased: take(each), edited: take(each), voided: take(each),
		repriced: take(each), extended: take(each), moved: take(2 * each), corrupted: take(each)}
	for i := range each {
		p.added = append(p.added, fmt.Sprintf("CRNEW%06d", i))
		p.fakes = append(p.fakes, fmt.Sprintf("CRFAKE%06d", i))
	}
	return p, nil
}

// applyDrift saves what restoreSource needs, then makes the index wrong
// as p says: in the source without touching updated_at (the changes
// incremental syncs are not run for here), and in the index directly,
// with versioned writes as the sync's own.
func applyDrift(ctx context.Context, d *app.App, p drift) error {
	touched := append(p.existing(), p.added...)
	// The corrupted documents' true profiles, read before anything changes.
	var corrupted []profile.Profile
	if err := source.NewEnricher(d.Source).IDs(ctx, p.corrupted, "", func(pr profile.Profile) error {
		corrupted = append(corrupted, pr)
		return nil
	}); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, d.Source, func(tx pgx.Tx) error {
		for _, sql := range []string{
			"CREATE TABLE bench_undo_ids AS SELECT unnest($1::text[]) AS customer_id",
			"CREATE TABLE bench_undo_customers AS SELECT * FROM customers WHERE customer_id = ANY($1)",
			"CREATE TABLE bench_undo_invoices AS SELECT * FROM invoices WHERE customer_id = ANY($1)",
			`CREATE TABLE bench_undo_lines AS SELECT ip.* FROM invoice_products ip
				JOIN invoices i ON i.invoice_id = ip.invoice_id WHERE i.customer_id = ANY($1)`,
		} {
			if _, err := tx.Exec(ctx, sql, touched); err != nil {
				return fmt.Errorf("save for restore: %w", err)
			}
		}
		first := `(SELECT DISTINCT ON (customer_id) invoice_id FROM invoices WHERE customer_id = ANY($1) ORDER BY customer_id, invoice_id)`
		var from, to []string
		for i := 0; i+1 < len(p.moved); i += 2 {
			from, to = append(from, p.moved[i]), append(to, p.moved[i+1])
		}
		steps := []struct {
			sql  string
			args []any
		}{
			{"DELETE FROM invoice_products WHERE invoice_id COLLATE \"C\" IN (SELECT invoice_id FROM invoices WHERE customer_id = ANY($1))", []any{p.erased}},
			{"DELETE FROM invoices WHERE customer_id = ANY($1)", []any{p.erased}},
			{"DELETE FROM customers WHERE customer_id = ANY($1)", []any{p.erased}},
			{"UPDATE customers SET city = coalesce(city, '') || ' (bench)' WHERE customer_id = ANY($1)", []any{p.edited}},
			{"DELETE FROM invoice_products WHERE invoice_id COLLATE \"C\" IN " + first, []any{p.voided}},
			{"DELETE FROM invoices WHERE invoice_id IN " + first, []any{p.voided}},
			{"UPDATE invoices SET total_amount = total_amount + 1 WHERE invoice_id IN " + first, []any{p.repriced}},
			{"INSERT INTO products (product_id, name) VALUES ($1, 'Bench special')", []any{benchProduct}},
			{"INSERT INTO invoice_products (invoice_id, product_id) SELECT invoice_id, $2 FROM " + first + " f", []any{p.extended, benchProduct}},
			{`UPDATE invoices i SET customer_id = m.dest FROM (SELECT DISTINCT ON (f.src) f.src, f.dest, inv.invoice_id
				FROM unnest($1::text[], $2::text[]) AS f(src, dest) JOIN invoices inv ON inv.customer_id = f.src
				ORDER BY f.src, inv.invoice_id) m WHERE i.invoice_id = m.invoice_id`, []any{from, to}},
			{`INSERT INTO customers (customer_id, company_id, name, city) SELECT id, 'COMP001', 'Bench New', 'Bench' FROM unnest($1::text[]) id`, []any{p.added}},
			{`INSERT INTO invoices (invoice_id, customer_id, invoice_date, total_amount) SELECT 'BENCH-' || id, id, now(), 1000 FROM unnest($1::text[]) id`, []any{p.added}},
			{`INSERT INTO invoice_products (invoice_id, product_id) SELECT 'BENCH-' || id, $2 FROM unnest($1::text[]) id`, []any{p.added, benchProduct}},
		}
		for _, st := range steps {
			if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
				return fmt.Errorf("change the source: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	// The index side.
	versions, err := d.Engine.FingerprintsOf(ctx, append(append([]string(nil), p.unindexed...), p.corrupted...))
	if err != nil {
		return err
	}
	version := map[string]search.Fingerprint{}
	for _, f := range versions {
		version[f.CustomerID] = f
	}
	var tombs []search.Tombstone
	for _, id := range p.unindexed {
		f, ok := version[id]
		if !ok {
			return fmt.Errorf("customer %s has no document after the full sync", id)
		}
		tombs = append(tombs, search.Tombstone{CustomerID: id, CompanyID: f.CompanyID, Version: f.Version})
	}
	if err := d.Engine.Delete(ctx, tombs); err != nil {
		return fmt.Errorf("delete documents: %w", err)
	}
	for i := range corrupted {
		corrupted[i].TotalPurchases += 7
		corrupted[i].TotalSpent += 100000
		corrupted[i].SourceVersion = version[corrupted[i].CustomerID].Version
	}
	for _, id := range p.fakes {
		corrupted = append(corrupted, profile.Profile{CustomerID: id, CompanyID: "COMP001", Name: "Bench fake", City: "Bench"})
	}
	if err := d.Engine.Upsert(ctx, corrupted); err != nil {
		return fmt.Errorf("corrupt documents: %w", err)
	}
	return nil
}

// restoreSource undoes applyDrift in the source, if a run left its saved
// rows: the touched customers' rows, invoices and lines are put back as
// they were and the bench product removed.
func restoreSource(ctx context.Context, pool *pgxpool.Pool) error {
	var saved bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('bench_undo_ids') IS NOT NULL").Scan(&saved); err != nil {
		return err
	}
	if !saved {
		return nil
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, sql := range []string{
			`DELETE FROM invoice_products WHERE invoice_id COLLATE "C" IN (SELECT invoice_id FROM invoices
				WHERE customer_id IN (SELECT customer_id FROM bench_undo_ids))`,
			"DELETE FROM invoices WHERE customer_id IN (SELECT customer_id FROM bench_undo_ids)",
			"DELETE FROM customers WHERE customer_id IN (SELECT customer_id FROM bench_undo_ids)",
			"INSERT INTO customers SELECT * FROM bench_undo_customers",
			"INSERT INTO invoices SELECT * FROM bench_undo_invoices",
			"INSERT INTO invoice_products SELECT * FROM bench_undo_lines",
			"DELETE FROM invoice_products WHERE product_id = '" + benchProduct + "'",
			"DELETE FROM products WHERE product_id = '" + benchProduct + "'",
			"DROP TABLE bench_undo_ids, bench_undo_customers, bench_undo_invoices, bench_undo_lines",
		} {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("restore the source: %w", err)
			}
		}
		return nil
	})
}
