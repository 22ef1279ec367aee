package pgsearch_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

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
	want := "company_id = $1 AND gender = ANY($2) AND city_key = ANY($3) AND products_key && $4 AND " +
		"ingredients_key && $5 AND favorite_products_key && $6 AND favorite_ingredients_key && $7 AND " +
		"last_purchase_at >= $8 AND last_purchase_at < $9 AND total_purchases >= $10 AND total_purchases <= $11 AND " +
		"total_spent >= $12 AND average_ticket <= $13 AND has_email = $14 AND has_phone = $15 AND total_purchases = 0 AND " +
		"EXISTS (SELECT 1 FROM unnest(search_tokens) AS t(token) WHERE starts_with(t.token, $16))"
	if where != want {
		t.Fatalf("where\n got %s\nwant %s", where, want)
	}
	money := func(a any) string { n := a.(pgtype.Numeric); return fmt.Sprint(n.Int, "e", n.Exp) }
	if len(args) != 16 || money(args[11]) != "110e-2" || money(args[12]) != "200e-2" ||
		!slices.Equal(args[1].([]string), []string{"female", "male"}) || args[15] != "ana" ||
		!args[7].(time.Time).Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
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
