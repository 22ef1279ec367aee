package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search/elastic"
)

// expected computes every customer's profile with SQL written here, over the
// source tables, independently of the enrichment code: each figure over its
// own grain (invoices for money and dates, distinct invoices per product or
// ingredient name for the favourites).
func expected(t *testing.T, pool *pgxpool.Pool) map[string]profile.Profile {
	t.Helper()
	rows, err := pool.Query(context.Background(), profilesSQL)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]profile.Profile{}
	for rows.Next() {
		var p profile.Profile
		var spent, avg string
		require.NoError(t, rows.Scan(&p.CustomerID, &p.CompanyID, &p.Name, &p.Email, &p.Phone, &p.GenderRaw, &p.City, &p.Gender,
			&p.TotalPurchases, &spent, &avg, &p.FirstPurchaseAt, &p.LastPurchaseAt,
			&p.Products, &p.FavoriteProducts, &p.Ingredients, &p.FavoriteIngredients))
		p.TotalSpent, err = profile.ParseCents(spent)
		require.NoError(t, err)
		p.AverageTicket, err = profile.ParseCents(avg)
		require.NoError(t, err)
		p.HasEmail = strings.TrimSpace(p.Email) != ""
		p.HasPhone = strings.TrimSpace(p.Phone) != ""
		out[p.CustomerID] = p
	}
	require.NoError(t, rows.Err())
	return out
}

// profilesSQL is the expected profile of every customer, computed over the
// source tables by SQL written for the tests.
const profilesSQL = `
		WITH inv AS (
			SELECT customer_id, count(*) AS n, sum(total_amount) AS spent, min(invoice_date) AS first, max(invoice_date) AS last
			FROM invoices GROUP BY customer_id
		), prod AS (
			SELECT i.customer_id, p.name, count(DISTINCT i.invoice_id) AS n
			FROM invoices i JOIN invoice_products ip ON ip.invoice_id = i.invoice_id JOIN products p ON p.product_id = ip.product_id
			GROUP BY 1, 2
		), prod_agg AS (
			SELECT customer_id, array_agg(name ORDER BY name COLLATE "C") AS names,
			       (array_agg(name ORDER BY n DESC, name COLLATE "C"))[1:5] AS top
			FROM prod GROUP BY customer_id
		), ingr AS (
			SELECT i.customer_id, g.name, count(DISTINCT i.invoice_id) AS n
			FROM invoices i JOIN invoice_products ip ON ip.invoice_id = i.invoice_id
			JOIN product_ingredients pi ON pi.product_id = ip.product_id JOIN ingredients g ON g.ingredient_id = pi.ingredient_id
			GROUP BY 1, 2
		), ingr_agg AS (
			SELECT customer_id, array_agg(name ORDER BY name COLLATE "C") AS names,
			       (array_agg(name ORDER BY n DESC, name COLLATE "C"))[1:5] AS top
			FROM ingr GROUP BY customer_id
		)
		SELECT c.customer_id, c.company_id, coalesce(c.name, ''), coalesce(c.email, ''), coalesce(c.phone, ''),
		       coalesce(c.gender, ''), coalesce(c.city, ''),
		       CASE translate(lower(regexp_replace(coalesce(c.gender, ''), '\s', '', 'g')), 'áéíóú', 'aeiou')
		            WHEN '' THEN 'unknown'
		            WHEN 'mujer' THEN 'female' WHEN 'female' THEN 'female' WHEN 'f' THEN 'female' WHEN 'femenino' THEN 'female' WHEN 'fem' THEN 'female'
		            WHEN 'hombre' THEN 'male' WHEN 'male' THEN 'male' WHEN 'm' THEN 'male' WHEN 'masculino' THEN 'male' WHEN 'masc' THEN 'male'
		            WHEN 'unknown' THEN 'unknown'
		            ELSE 'other' END,
		       coalesce(inv.n, 0), coalesce(inv.spent, 0)::text, coalesce(round(inv.spent / inv.n, 2), 0)::text,
		       inv.first, inv.last,
		       coalesce(pa.names, '{}'), coalesce(pa.top, '{}'), coalesce(ia.names, '{}'), coalesce(ia.top, '{}')
		FROM customers c
		LEFT JOIN inv ON inv.customer_id = c.customer_id
		LEFT JOIN prod_agg pa ON pa.customer_id = c.customer_id
		LEFT JOIN ingr_agg ia ON ia.customer_id = c.customer_id`

// indexed reads every document behind alias with a scroll.
func indexed(t *testing.T, es *elasticsearch.Client, alias string) map[string]profile.Profile {
	t.Helper()
	out := map[string]profile.Profile{}
	err := elastic.ScanIndex(context.Background(), es, elastic.Scroll{Index: alias, Size: 5000, KeepAlive: time.Minute}, func(hits []elastic.Hit) error {
		for _, h := range hits {
			p, err := elastic.DecodeSource(h.Source)
			require.NoError(t, err)
			require.Equal(t, h.ID, p.CustomerID)
			require.Equal(t, p.CompanyID, h.Routing, "documents are routed by company")
			out[h.ID] = p
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// requireSameProfiles compares every field of every profile; it reports the
// first few differences.
func requireSameProfiles(t *testing.T, want, got map[string]profile.Profile) {
	t.Helper()
	require.Equal(t, len(want), len(got), "document count")
	var diffs []string
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			diffs = append(diffs, "missing "+id)
		} else if d := profileDiff(w, g); d != "" {
			diffs = append(diffs, id+": "+d)
		}
		if len(diffs) >= 5 {
			break
		}
	}
	require.Empty(t, diffs)
}

func profileDiff(w, g profile.Profile) string {
	// Timestamps compare as instants; everything else by value.
	sameTime := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	if !sameTime(w.FirstPurchaseAt, g.FirstPurchaseAt) || !sameTime(w.LastPurchaseAt, g.LastPurchaseAt) {
		return fmt.Sprintf("dates %v..%v vs %v..%v", w.FirstPurchaseAt, w.LastPurchaseAt, g.FirstPurchaseAt, g.LastPurchaseAt)
	}
	w.FirstPurchaseAt, w.LastPurchaseAt, g.FirstPurchaseAt, g.LastPurchaseAt = nil, nil, nil, nil
	w.CreatedAt, w.UpdatedAt, g.CreatedAt, g.UpdatedAt = nil, nil, nil, nil
	clearScores(&w)
	clearScores(&g)
	wj, _ := json.Marshal(w)
	gj, _ := json.Marshal(g)
	if string(wj) != string(gj) {
		return fmt.Sprintf("\n want %s\n got  %s", wj, gj)
	}
	return ""
}
