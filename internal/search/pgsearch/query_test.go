package pgsearch_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/testenv"
)

func TestWhereEveryField(t *testing.T) {
	f, err := segment.Decode([]byte(`{
		"companyId":"C1","gender":["mujer","m"],"city":"San José","products":"Pan","ingredients":"Té",
		"favoriteProducts":"Café","favoriteIngredients":"Harina",
		"minDaysSinceLastPurchase":1,"lastPurchaseFrom":"2024-01-01",
		"minTotalPurchases":1,"maxTotalPurchases":9,"minTotalSpent":1.1,"maxAverageTicket":2,
		"hasEmail":true,"hasPhone":false,"neverPurchased":true,"q":"Ana"}`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)
	where, args := pgsearch.Where(f, f.Bounds(now, time.UTC))
	want := "company_key = $1 AND company_id = $2 AND gender = ANY($3) AND city_key = ANY($4) AND products_key && $5 AND " +
		"ingredients_key && $6 AND favorite_products_key && $7 AND favorite_ingredients_key && $8 AND " +
		"last_purchase_at >= $9 AND last_purchase_at < $10 AND total_purchases >= $11 AND total_purchases <= $12 AND " +
		"total_spent_cents >= $13 AND average_ticket_cents <= $14 AND has_email = $15 AND has_phone = $16 AND total_purchases = 0 AND " +
		"EXISTS (SELECT 1 FROM unnest(search_tokens) AS t(token) WHERE starts_with(t.token, $17))"
	if where != want {
		t.Fatalf("where\n got %s\nwant %s", where, want)
	}
	if len(args) != 17 || args[0] != pgsearch.CompanyKey("C1") || args[1] != "C1" ||
		args[12] != int64(110) || args[13] != int64(200) ||
		!slices.Equal(args[2].([]string), []string{"female", "male"}) || args[16] != "ana" ||
		!args[8].(time.Time).Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("args %v", args)
	}
	if where, args := pgsearch.Where(segment.Filter{}, segment.Bounds{}); where != "TRUE" || len(args) != 0 {
		t.Fatalf("empty filter compiles to %s %v", where, args)
	}
}

// TestTableMatchesColumns checks that the DDL, Columns and Row agree.
func TestTableMatchesColumns(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Postgres(t)
	if _, err := pool.Exec(ctx, pgsearch.CreateTableSQL("gen_1")); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'gen_1' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if !slices.Equal(cols, pgsearch.Columns) {
		t.Fatalf("table columns %v\nColumns       %v", cols, pgsearch.Columns)
	}
	if n := len(pgsearch.Row(profile.Profile{})); n != len(cols) {
		t.Fatalf("Row has %d values for %d columns", n, len(cols))
	}
}

// TestNothingServedYet: before the first promotion there is no view, and
// searches answer empty pages rather than fail.
func TestNothingServedYet(t *testing.T) {
	e := pgsearch.New(testenv.Postgres(t), "")
	if err := e.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	page, err := e.Search(context.Background(), search.Query{})
	if err != nil || page.Total != 0 || len(page.Customers) != 0 {
		t.Fatalf("got %+v, %v", page, err)
	}
}
