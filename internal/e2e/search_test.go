package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/api"
	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
)

// expectedViewSQL is every customer's profile as SQL over the source
// tables computes it, with folded keys for the filters: the reference the
// search results are checked against (never the index itself).
const expectedViewSQL = `
CREATE FUNCTION fold(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT lower(regexp_replace(btrim(translate(coalesce($1, ''), 'ÁÉÍÓÚÜÑáéíóúüñ', 'AEIOUUNaeiouun')), '\s+', ' ', 'g'))
$$;
CREATE VIEW expected_profiles AS
WITH inv AS (
	SELECT customer_id, count(*) AS n, sum(total_amount) AS spent, max(invoice_date) AS last
	FROM invoices GROUP BY customer_id
), prod AS (
	SELECT i.customer_id, p.name, count(DISTINCT i.invoice_id) AS n
	FROM invoices i JOIN invoice_products ip ON ip.invoice_id = i.invoice_id JOIN products p ON p.product_id = ip.product_id
	GROUP BY 1, 2
), prod_agg AS (
	SELECT customer_id, array_agg(fold(name)) AS names, (array_agg(fold(name) ORDER BY n DESC, name COLLATE "C"))[1:5] AS top
	FROM prod GROUP BY customer_id
), ingr AS (
	SELECT i.customer_id, g.name, count(DISTINCT i.invoice_id) AS n
	FROM invoices i JOIN invoice_products ip ON ip.invoice_id = i.invoice_id
	JOIN product_ingredients pi ON pi.product_id = ip.product_id JOIN ingredients g ON g.ingredient_id = pi.ingredient_id
	GROUP BY 1, 2
), ingr_agg AS (
	SELECT customer_id, array_agg(fold(name)) AS names, (array_agg(fold(name) ORDER BY n DESC, name COLLATE "C"))[1:5] AS top
	FROM ingr GROUP BY customer_id
)
SELECT c.customer_id, c.company_id, fold(c.name) AS name_key, coalesce(c.email, '') AS email, coalesce(c.phone, '') AS phone,
       CASE translate(lower(regexp_replace(coalesce(c.gender, ''), '\s', '', 'g')), 'áéíóú', 'aeiou')
            WHEN '' THEN 'unknown'
            WHEN 'mujer' THEN 'female' WHEN 'female' THEN 'female' WHEN 'f' THEN 'female' WHEN 'femenino' THEN 'female' WHEN 'fem' THEN 'female'
            WHEN 'hombre' THEN 'male' WHEN 'male' THEN 'male' WHEN 'm' THEN 'male' WHEN 'masculino' THEN 'male' WHEN 'masc' THEN 'male'
            WHEN 'unknown' THEN 'unknown'
            ELSE 'other' END AS gender,
       fold(c.city) AS city_key,
       coalesce(inv.n, 0) AS purchases, coalesce(inv.spent, 0) AS spent, coalesce(round(inv.spent / inv.n, 2), 0) AS avg_ticket,
       inv.last,
       (inv.last AT TIME ZONE 'America/Costa_Rica')::date AS last_day,
       (now() AT TIME ZONE 'America/Costa_Rica')::date AS today,
       coalesce(pa.names, '{}') AS products, coalesce(pa.top, '{}') AS fav_products,
       coalesce(ia.names, '{}') AS ingredients, coalesce(ia.top, '{}') AS fav_ingredients
FROM customers c
LEFT JOIN inv ON inv.customer_id = c.customer_id
LEFT JOIN prod_agg pa ON pa.customer_id = c.customer_id
LEFT JOIN ingr_agg ia ON ia.customer_id = c.customer_id`

type searchClient struct {
	t   *testing.T
	url string
	key string
}

// on returns the client reporting to t (a subtest).
func (s searchClient) on(t *testing.T) searchClient { s.t = t; return s }

func (s searchClient) post(path string, body any) (int, http.Header, map[string]any) {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.url+path, bytes.NewReader(b))
	req.Header.Set("X-API-Key", s.key)
	req.Header.Set("Content-Type", "application/json")
	return s.send(req)
}

func (s searchClient) get(path string) (int, http.Header, map[string]any) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.Header.Set("X-API-Key", s.key)
	return s.send(req)
}

func (s searchClient) send(req *http.Request) (int, http.Header, map[string]any) {
	s.t.Helper()
	res, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(s.t, err)
	var out map[string]any
	require.NoError(s.t, json.Unmarshal(data, &out), string(data))
	return res.StatusCode, res.Header, out
}

// searchAll pages through every match of filter and returns total and ids.
func (s searchClient) searchAll(filter map[string]any) (int64, []string) {
	s.t.Helper()
	body := map[string]any{}
	for k, v := range filter {
		body[k] = v
	}
	body["size"] = 100
	var ids []string
	var total int64 = -1
	for {
		status, _, out := s.post("/api/v1/customers/search", body)
		require.Equal(s.t, 200, status, out)
		if total < 0 {
			total = int64(out["total"].(float64))
		}
		require.Equal(s.t, float64(total), out["total"], "the total is the same on every page")
		for _, c := range out["customers"].([]any) {
			ids = append(ids, c.(map[string]any)["customerId"].(string))
		}
		next, _ := out["nextCursor"].(string)
		if next == "" {
			return total, ids
		}
		body["cursor"] = next
	}
}

func sqlIDs(t *testing.T, b *testBundle, where string, args ...any) []string {
	t.Helper()
	rows, err := b.deps.Source.Query(context.Background(),
		"SELECT customer_id FROM expected_profiles WHERE company_id = 'COMP001' AND ("+where+") ORDER BY customer_id", args...)
	require.NoError(t, err)
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	return ids
}

// TestSearchAgainstSQL checks every filter field, alone and combined,
// against SQL written here over the source tables: same totals, same ids.
// It also covers isolation between companies, the cache, and large-segment
// snapshots that stay put while the index changes.
func TestSearchAgainstSQL(t *testing.T) {
	b := setup(t, demoCustomers, func(c *config.Config) {
		// This test pages through whole segments; the limiter is tested elsewhere.
		c.RateLimitPerMinute, c.RateLimitBurst = 1_000_000, 100_000
	})
	ctx := context.Background()
	_, err := b.deps.Source.Exec(ctx, expectedViewSQL)
	require.NoError(t, err)
	start(t, b.cfg, "worker")
	full := b.startSync(t, "full")
	require.Equal(t, jobs.Succeeded, waitJob(t, b.deps.Jobs, full, 5*time.Minute).State)

	srv := httptest.NewServer(api.New(b.deps.APIParams()).Handler())
	t.Cleanup(srv.Close)
	newKey := func(company string, admin bool) string {
		_, secret, err := b.deps.Keys.Create(ctx, auth.NewKey{Name: "t", CompanyID: company, Admin: admin, Scopes: auth.AllScopes[:3]})
		require.NoError(t, err)
		return secret
	}
	comp1 := searchClient{t, srv.URL, newKey("COMP001", false)}

	// Names from the demo catalogue and data, so the cases match something.
	var product, ingredient, favIngredient, surname string
	require.NoError(t, b.deps.Source.QueryRow(ctx, "SELECT fav_products[1] FROM expected_profiles WHERE cardinality(fav_products) > 0 ORDER BY customer_id LIMIT 1").Scan(&product))
	require.NoError(t, b.deps.Source.QueryRow(ctx, "SELECT ingredients[1] FROM expected_profiles WHERE cardinality(ingredients) > 2 ORDER BY customer_id DESC LIMIT 1").Scan(&ingredient))
	require.NoError(t, b.deps.Source.QueryRow(ctx, "SELECT fav_ingredients[2] FROM expected_profiles WHERE cardinality(fav_ingredients) > 2 ORDER BY customer_id LIMIT 1").Scan(&favIngredient))
	require.NoError(t, b.deps.Source.QueryRow(ctx, "SELECT split_part(name_key, ' ', 2) FROM expected_profiles WHERE name_key LIKE '% %' ORDER BY customer_id LIMIT 1").Scan(&surname))
	day := func(offset int) string {
		return time.Now().In(b.cfg.Location).AddDate(0, 0, offset).Format(time.DateOnly)
	}

	cases := []struct {
		name   string
		filter map[string]any
		where  string
		args   []any
	}{
		{"everything", map[string]any{}, "true", nil},
		{"gender alias", map[string]any{"gender": "Mujer"}, "gender = 'female'", nil},
		{"city folded", map[string]any{"city": "san jose"}, "city_key = 'san jose'", nil},
		{"cities", map[string]any{"city": []string{"CARTAGO", "Heredia "}}, "city_key IN ('cartago', 'heredia')", nil},
		{"90 days quiet", map[string]any{"minDaysSinceLastPurchase": 90}, "last_day <= today - 90", nil},
		{"active in 30 days", map[string]any{"maxDaysSinceLastPurchase": 30}, "last_day >= today - 30", nil},
		{"quiet 61 to 180", map[string]any{"minDaysSinceLastPurchase": 61, "maxDaysSinceLastPurchase": 180}, "last_day BETWEEN today - 180 AND today - 61", nil},
		{"last purchase dates", map[string]any{"lastPurchaseFrom": day(-400), "lastPurchaseTo": day(-200)}, "last_day BETWEEN $1::date AND $2::date", []any{day(-400), day(-200)}},
		{"min purchases", map[string]any{"minTotalPurchases": 12}, "purchases >= 12", nil},
		{"max purchases", map[string]any{"maxTotalPurchases": 2}, "purchases <= 2", nil},
		{"spend range", map[string]any{"minTotalSpent": 50000, "maxTotalSpent": 150000.5}, "spent BETWEEN 50000 AND 150000.50", nil},
		{"average ticket", map[string]any{"minAverageTicket": 9000.25, "maxAverageTicket": 20000}, "avg_ticket BETWEEN 9000.25 AND 20000", nil},
		{"product", map[string]any{"products": product}, "$1 = ANY(products)", []any{product}},
		{"ingredient", map[string]any{"ingredients": []string{ingredient}}, "$1 = ANY(ingredients)", []any{ingredient}},
		{"favourite product", map[string]any{"favoriteProducts": product}, "$1 = ANY(fav_products)", []any{product}},
		{"favourite ingredient", map[string]any{"favoriteIngredients": favIngredient}, "$1 = ANY(fav_ingredients)", []any{favIngredient}},
		{"no email", map[string]any{"hasEmail": false}, "btrim(email) = ''", nil},
		{"has phone", map[string]any{"hasPhone": true}, "btrim(phone) <> ''", nil},
		{"never purchased", map[string]any{"neverPurchased": true}, "purchases = 0", nil},
		{"bought", map[string]any{"neverPurchased": false}, "purchases > 0", nil},
		{"free text", map[string]any{"q": surname}, "EXISTS (SELECT 1 FROM regexp_split_to_table(name_key, '[^a-z0-9]+') w WHERE w LIKE $1 || '%') OR name_key LIKE $1 || '%' OR name_key LIKE '% ' || $1 || '%'", []any{surname}},
		{"the seed's question", map[string]any{"gender": "mujer", "city": "San José", "minDaysSinceLastPurchase": 90},
			"gender = 'female' AND city_key = 'san jose' AND last_day <= today - 90", nil},
		{"combined", map[string]any{"gender": []string{"hombre", "F"}, "minTotalPurchases": 3, "ingredients": ingredient, "maxDaysSinceLastPurchase": 365, "hasEmail": true},
			"gender IN ('male', 'female') AND purchases >= 3 AND $1 = ANY(ingredients) AND last_day >= today - 365 AND btrim(email) <> ''", []any{ingredient}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := sqlIDs(t, b, c.where, c.args...)
			total, got := comp1.on(t).searchAll(c.filter)
			slices.Sort(got)
			require.Equal(t, int64(len(want)), total)
			require.Equal(t, want, got)
			if c.name != "everything" && c.name != "bought" {
				require.Less(t, len(want), 12000, "a filter that matches everything tests nothing")
			}
			require.NotEmpty(t, want, "a filter that matches nothing tests little")
		})
	}

	t.Run("companies are isolated", func(t *testing.T) {
		comp2 := searchClient{t, srv.URL, newKey("COMP002", false)}
		_, ids := comp2.searchAll(map[string]any{"companyId": "COMP001", "minDaysSinceLastPurchase": 90})
		var n int
		require.NoError(t, b.deps.Source.QueryRow(ctx, "SELECT count(*) FROM customers WHERE company_id = 'COMP001' AND customer_id = ANY($1)", ids).Scan(&n))
		require.Zero(t, n, "a company key never sees another company's customers")
		require.NotEmpty(t, ids)

		admin := searchClient{t, srv.URL, newKey("", true)}
		status, _, out := admin.post("/api/v1/customers/search", map[string]any{"gender": "mujer"})
		require.Equal(t, 400, status)
		require.Equal(t, "companyId", out["errors"].([]any)[0].(map[string]any)["field"])
		total, _ := admin.searchAll(map[string]any{"companyId": "COMP001", "gender": "mujer"})
		require.Equal(t, int64(len(sqlIDs(t, b, "gender = 'female'"))), total)
	})

	t.Run("the seed's path answers too", func(t *testing.T) {
		comp1 := comp1.on(t)
		status, _, out := comp1.post("/api/customers/search", map[string]any{"gender": "mujer", "city": "San José", "minDaysSinceLastPurchase": 90})
		require.Equal(t, 200, status, out)
		require.Equal(t, float64(len(sqlIDs(t, b, "gender = 'female' AND city_key = 'san jose' AND last_day <= today - 90"))), out["total"])
	})

	t.Run("snapshot and cache", func(t *testing.T) {
		comp1 := comp1.on(t)
		filter := map[string]any{"minDaysSinceLastPurchase": 30}
		want := sqlIDs(t, b, "last_day <= today - 30")
		status, _, out := comp1.post("/api/v1/segments/searches", map[string]any{"filter": filter, "sort": "totalSpent:desc"})
		require.Equal(t, 202, status, out)
		id := out["jobId"].(string)
		j := waitJob(t, b.deps.Jobs, id, 2*time.Minute)
		require.Equal(t, jobs.Succeeded, j.State, j.Error)
		status, _, out = comp1.get("/api/v1/segments/searches/" + id)
		require.Equal(t, 200, status)
		summary := out["summary"].(map[string]any)
		require.Equal(t, float64(len(want)), summary["count"])
		var recency float64
		for _, bucket := range summary["recency"].([]any) {
			recency += bucket.(map[string]any)["count"].(float64)
		}
		require.Equal(t, float64(len(want)), recency, "recency buckets add up")

		readAll := func() []string {
			var ids []string
			cursor := ""
			for {
				status, _, page := comp1.get(fmt.Sprintf("/api/v1/segments/searches/%s/results?size=1000&cursor=%s", id, cursor))
				require.Equal(t, 200, status, page)
				for _, c := range page["customers"].([]any) {
					ids = append(ids, c.(map[string]any)["customerId"].(string))
				}
				if cursor, _ = page["nextCursor"].(string); cursor == "" {
					return ids
				}
			}
		}
		before := readAll()
		require.Len(t, before, len(want))

		// Another company's key cannot see the snapshot.
		comp2 := searchClient{t, srv.URL, newKey("COMP002", false)}
		status, _, _ = comp2.get("/api/v1/segments/searches/" + id + "/results")
		require.Equal(t, 404, status)

		// Cached answers: a second identical search hits.
		q := map[string]any{"city": "Cartago", "size": 5}
		_, h1, _ := comp1.post("/api/v1/customers/search", q)
		_, h2, _ := comp1.post("/api/v1/customers/search", q)
		require.Equal(t, "MISS", h1.Get("X-Cache"))
		require.Equal(t, "HIT", h2.Get("X-Cache"))

		// Live data changes and syncs; the snapshot stays put, the cache
		// does not serve the old answer.
		_, err := b.deps.Source.Exec(ctx, `UPDATE customers SET city = 'Cartago', updated_at = now()
			WHERE customer_id IN (SELECT customer_id FROM customers WHERE company_id = 'COMP001' ORDER BY customer_id LIMIT 50)`)
		require.NoError(t, err)
		inc := b.startSync(t, "incremental")
		require.Equal(t, jobs.Succeeded, waitJob(t, b.deps.Jobs, inc, time.Minute).State)
		refresh(t, b)
		_, h3, _ := comp1.post("/api/v1/customers/search", q)
		require.Equal(t, "MISS", h3.Get("X-Cache"), "a sync invalidates cached answers")
		require.Equal(t, before, readAll(), "a snapshot does not change under later syncs")
	})
}
