package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search/elastic"
)

func init() {
	Register(Scenario{
		Name:        "sync",
		Description: "full sync (plan to alias swap) against the COPY floor of reading the lines plus raw _bulk of the same documents (into the lean mapping and the one before it), and against the seed's pipeline (its materialized view plus raw _bulk of its rows), in rounds (BENCH_SYNC_ROUNDS, 3; each a full sync without scores, one with, then the floors) whose median ratios are the targets; then an incremental sync of 1% of the customers",
		Run:         runSync,
	})
}

// seedView is the production guide's materialized view, exactly as the
// seed writes it.
const seedView = `CREATE MATERIALIZED VIEW customer_stats AS
SELECT 
  c.customer_id,
  c.company_id,
  c.phone,
  c.name,
  c.email,
  c.gender,
  c.city,
  MAX(i.invoice_date) as last_purchase_date,
  COUNT(DISTINCT i.invoice_id) as total_purchases,
  SUM(i.total_amount) as total_spent,
  AVG(i.total_amount) as average_ticket,
  ARRAY_AGG(DISTINCT p.name) as favorite_products,
  ARRAY_AGG(DISTINCT ing.name) as favorite_ingredients
FROM customers c
LEFT JOIN invoices i ON c.customer_id = i.customer_id
LEFT JOIN invoice_products ip ON i.invoice_id = ip.invoice_id
LEFT JOIN products p ON ip.product_id = p.product_id
LEFT JOIN product_ingredients ping ON p.product_id = ping.product_id
LEFT JOIN ingredients ing ON ping.ingredient_id = ing.ingredient_id
GROUP BY c.customer_id, c.company_id, c.phone, c.name, c.email, c.gender, c.city;`

// linesFloor reads every invoice line joined to its invoice: the least any
// enrichment must read.
const linesFloor = `COPY (SELECT i.customer_id, i.invoice_id, ip.product_id, i.total_amount, i.invoice_date
	FROM invoice_products ip JOIN invoices i ON i.invoice_id = ip.invoice_id) TO STDOUT`

func runSync(ctx context.Context, env Env, r *Report) error {
	if env.Engine == EnginePostgres {
		return runSyncPostgres(ctx, env, r)
	}
	r.Engine = EngineElastic
	if env.Config.ElasticsearchURL == "" {
		return errors.New("the sync scenario measures the search engine: set ELASTICSEARCH_URL")
	}
	cfg, d, err := openSyncData(ctx, env)
	if err != nil {
		return err
	}
	defer d.Close()

	client, err := elastic.NewClient(cfg.ElasticsearchURL, cfg.SearchFlavor)
	if err != nil {
		return err
	}
	rounds, err := positive("BENCH_SYNC_ROUNDS", syncRounds, "rounds")
	if err != nil {
		return err
	}
	scored := cfg
	scored.ScoresEnabled = true
	var measured []syncRound
	var fl *floors
	var docs int64
	var old time.Duration // raw _bulk into mappingV1, the first round
	for i := range rounds {
		if rounds > 1 {
			fmt.Fprintf(env.Out, "round %d of %d\n", i+1, rounds)
		}
		// The scores' baseline first, with a worker of its own that has
		// scores off; then the full sync, plan to alias swap, as the job
		// row times it.
		jobID, without, took, err := syncsWithoutAndWith(ctx, env, d, cfg, scored)
		if err != nil {
			return err
		}
		m := syncRound{Sync: took.Seconds(), Without: without.Seconds()}
		if i == 0 {
			if docs, err = syncedDocuments(ctx, d, jobID); err != nil {
				return err
			}
			if err := reportFit(ctx, env, d, jobID, r); err != nil {
				return err
			}
		}
		// (b) the floor of reading the data.
		fmt.Fprintln(env.Out, "COPY floor ...")
		floor, err := timeCopy(ctx, d, linesFloor)
		if err != nil {
			return err
		}
		m.Copy = floor.Seconds()
		// (c) raw _bulk of the same final documents, into the lean
		// mapping (the first round, into the one before it too); (a) the
		// seed's view plus raw _bulk of its rows.
		if fl == nil {
			if fl, err = newFloors(ctx, env, client, d, cfg.IndexAlias); err != nil {
				return err
			}
			defer fl.Close()
			if old, err = fl.RawBulkOld(ctx); err != nil {
				return err
			}
			r.Add("raw_bulk_old_mapping_seconds", old.Seconds(), "s")
		}
		bulk, err := fl.RawBulk(ctx)
		if err != nil {
			return err
		}
		view, seedBulk, err := fl.Seed(ctx)
		if err != nil {
			return err
		}
		m.Bulk, m.SeedView, m.SeedBulk = bulk.Seconds(), view.Seconds(), seedBulk.Seconds()
		if rounds > 1 {
			m.report(r, fmt.Sprintf("round%d_", i+1))
		}
		measured = append(measured, m)
	}
	mid := medianRound(measured)
	mid.report(r, "")
	r.AtMost("full_sync_with_over_without_scores", median(measured, syncRound.overWithout), 1.10)
	r.Add("full_sync_documents_per_second", float64(docs)/mid.Sync, "docs/s")
	r.Add("full_sync_vs_seed_view", median(measured, syncRound.overView), "ratio")
	r.Add("full_sync_vs_copy_plus_bulk", median(measured, syncRound.overFloor), "ratio")
	r.AtMost("raw_bulk_new_over_old", measured[0].Bulk/old.Seconds(), 0.75)
	r.AtMost("full_sync_over_copy_plus_bulk_new", median(measured, syncRound.overFloor), 1.15)
	r.AtMost("full_sync_over_seed_pipeline", median(measured, syncRound.overSeed), 0.60)

	// Incremental: 1% of the customers change; enqueue to searchable.
	stop, err := runWorker(ctx, scored)
	if err != nil {
		return err
	}
	defer stop()
	return timeIncremental(ctx, env, d, r, func(city string, n int) error {
		return waitSearchable(ctx, client, cfg.IndexAlias, city, n)
	})
}

// syncRounds is how many rounds the sync scenario measures unless
// BENCH_SYNC_ROUNDS says otherwise. On a shared two-core machine one
// sync's time moves by a fifth from run to run (the engine's CPU for the
// same documents most); a round measures the sync and its baselines one
// after the other, and the targets are the median round's ratios.
const syncRounds = 3

// syncRound is one round of the sync scenario, in seconds: a full sync
// without scores (Without) and the full sync with them (Sync), its floor
// (the COPY of the lines, raw _bulk of its documents into today's
// mapping) and the seed's nightly pipeline (its view, raw _bulk of its
// rows), one after the other.
type syncRound struct {
	Sync, Without, Copy, Bulk, SeedView, SeedBulk float64
}

func (m syncRound) overWithout() float64 { return m.Sync / m.Without }

func (m syncRound) overFloor() float64 { return m.Sync / (m.Copy + m.Bulk) }
func (m syncRound) overSeed() float64  { return m.Sync / (m.SeedView + m.SeedBulk) }
func (m syncRound) overView() float64  { return m.Sync / m.SeedView }

// report adds the round's figures, their names prefixed (a round's own
// ratios too).
func (m syncRound) report(r *Report, prefix string) {
	r.Add(prefix+"full_sync_seconds", m.Sync, "s")
	r.Add(prefix+"full_sync_without_scores_seconds", m.Without, "s")
	r.Add(prefix+"copy_lines_seconds", m.Copy, "s")
	r.Add(prefix+"raw_bulk_seconds", m.Bulk, "s")
	r.Add(prefix+"seed_view_seconds", m.SeedView, "s")
	r.Add(prefix+"seed_bulk_seconds", m.SeedBulk, "s")
	r.Add(prefix+"seed_pipeline_seconds", m.SeedView+m.SeedBulk, "s")
	if prefix != "" {
		r.Add(prefix+"full_sync_with_over_without_scores", m.overWithout(), "ratio")
		r.Add(prefix+"full_sync_over_copy_plus_bulk", m.overFloor(), "ratio")
		r.Add(prefix+"full_sync_over_seed_pipeline", m.overSeed(), "ratio")
	}
}

// medianRound holds each figure's median over the rounds.
func medianRound(rounds []syncRound) syncRound {
	return syncRound{
		Sync:     median(rounds, func(m syncRound) float64 { return m.Sync }),
		Without:  median(rounds, func(m syncRound) float64 { return m.Without }),
		Copy:     median(rounds, func(m syncRound) float64 { return m.Copy }),
		Bulk:     median(rounds, func(m syncRound) float64 { return m.Bulk }),
		SeedView: median(rounds, func(m syncRound) float64 { return m.SeedView }),
		SeedBulk: median(rounds, func(m syncRound) float64 { return m.SeedBulk }),
	}
}

// median is the median of f over the rounds (of an even number of
// rounds, the mean of the middle two).
func median(rounds []syncRound, f func(syncRound) float64) float64 {
	v := make([]float64, len(rounds))
	for i, m := range rounds {
		v[i] = f(m)
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// timeSeedView times building the seed's materialized view over d's
// source, runs then (when not nil) while the view exists, and drops it.
func timeSeedView(ctx context.Context, env Env, d *app.App, then func() error) (time.Duration, error) {
	fmt.Fprintln(env.Out, "seed materialized view ...")
	start := time.Now()
	if _, err := d.Source.Exec(ctx, "DROP MATERIALIZED VIEW IF EXISTS customer_stats"); err != nil {
		return 0, err
	}
	if _, err := d.Source.Exec(ctx, seedView); err != nil {
		return 0, fmt.Errorf("seed view: %w", err)
	}
	seed := time.Since(start)
	var err error
	if then != nil {
		err = then()
	}
	_, _ = d.Source.Exec(ctx, "DROP MATERIALIZED VIEW IF EXISTS customer_stats")
	return seed, err
}

// changeCities moves 1% of the customers (at least one) to a new city of
// this run, as an edit the incremental sync must pick up, and returns how
// many changed and the city.
func changeCities(ctx context.Context, env Env, d *app.App) (int, string, error) {
	changed := max(env.Customers/100, 1)
	fmt.Fprintf(env.Out, "incremental of %d customers ...\n", changed)
	city := fmt.Sprintf("Bench %d", time.Now().UnixNano())
	_, err := d.Source.Exec(ctx, `UPDATE customers SET city = $1, updated_at = now()
		WHERE customer_id IN (SELECT customer_id FROM customers ORDER BY md5(customer_id) LIMIT $2)`, city, changed)
	return changed, city, err
}

func waitFinal(ctx context.Context, store *jobs.Store, id string, timeout time.Duration) (jobs.Job, error) {
	return pollFinal(ctx, store, id, timeout, 100*time.Millisecond)
}

// timeCopy runs a COPY ... TO STDOUT and throws the bytes away.
func timeCopy(ctx context.Context, d *app.App, sql string) (time.Duration, error) {
	conn, err := d.Source.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	start := time.Now()
	if _, err := conn.Conn().PgConn().CopyTo(ctx, io.Discard, sql); err != nil {
		return 0, fmt.Errorf("copy floor: %w", err)
	}
	return time.Since(start), nil
}

// waitSearchable polls until n documents show the new city.
func waitSearchable(ctx context.Context, client *elasticsearch.Client, alias, city string, n int) error {
	q := fmt.Sprintf(`{"query":{"term":{"cityKey":%q}}}`, profile.Fold(city))
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		res, err := client.Count(client.Count.WithContext(ctx), client.Count.WithIndex(alias), client.Count.WithBody(strings.NewReader(q)))
		if err != nil {
			return err
		}
		var out struct {
			Count int `json:"count"`
		}
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err == nil && res.StatusCode == http.StatusOK && out.Count >= n {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("changed customers not searchable after 2 minutes")
}
