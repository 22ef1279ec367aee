package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
		Description: "full sync (plan to alias swap) against the COPY floor of reading the lines plus raw _bulk of the same documents (into the lean mapping and the one before it), and against the seed's pipeline (its materialized view plus raw _bulk of its rows); then an incremental sync of 1% of the customers",
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

	// The baseline first, with a worker of its own that has scores off.
	withoutScores, err := fullSyncWithoutScores(ctx, env, cfg)
	if err != nil {
		return err
	}
	cfg.ScoresEnabled = true
	stop, err := runWorker(ctx, cfg)
	if err != nil {
		return err
	}
	defer stop()

	// The full sync: plan to alias swap, as the job row times it.
	fmt.Fprintln(env.Out, "full sync ...")
	jobID, full, err := timeFullSync(ctx, d, r)
	if err != nil {
		return err
	}
	if err := reportScores(ctx, env, d, jobID, full, withoutScores, r); err != nil {
		return err
	}

	// (b) the floor of reading the data.
	fmt.Fprintln(env.Out, "COPY floor ...")
	floor, err := timeCopy(ctx, d, linesFloor)
	if err != nil {
		return err
	}
	r.Add("copy_lines_seconds", floor.Seconds(), "s")

	// (c) raw _bulk of the same final documents, into the lean mapping and
	// the one before it; (a) the seed's view plus raw _bulk of its rows.
	client, err := elastic.NewClient(cfg.ElasticsearchURL, cfg.SearchFlavor)
	if err != nil {
		return err
	}
	floors, err := measureBulkFloors(ctx, env, client, d, cfg.IndexAlias, r)
	if err != nil {
		return err
	}
	rawBulk, seed := floors.New, floors.SeedView

	r.Add("full_sync_vs_seed_view", full.Seconds()/seed.Seconds(), "ratio")
	r.Add("full_sync_vs_copy_plus_bulk", full.Seconds()/(floor+rawBulk).Seconds(), "ratio")
	r.AtMost("full_sync_over_copy_plus_bulk_new", full.Seconds()/(floor+rawBulk).Seconds(), 1.15)
	r.AtMost("full_sync_over_seed_pipeline", full.Seconds()/(floors.SeedView+floors.SeedBulk).Seconds(), 0.60)

	// Incremental: 1% of the customers change; enqueue to searchable.
	return timeIncremental(ctx, env, d, r, func(city string, n int) error {
		return waitSearchable(ctx, client, cfg.IndexAlias, city, n)
	})
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
