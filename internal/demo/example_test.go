package demo_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/reactivation/reactivation/internal/demo"
	"github.com/reactivation/reactivation/internal/postgres"
)

// Seed 1,000 customers into the source tables, replacing what they hold.
// The same options give the same rows on any machine.
func ExampleSeed() {
	ctx := context.Background()
	pool, err := postgres.Open(ctx, "postgres://reactivation:reactivation@127.0.0.1:5432/reactivation?sslmode=disable", 4)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	costaRica, err := time.LoadLocation("America/Costa_Rica")
	if err != nil {
		log.Fatal(err)
	}
	stats, err := demo.Seed(ctx, pool, demo.Options{
		Customers: 1000,
		Seed:      1,
		Truncate:  true,
		AsOf:      time.Date(2026, 3, 1, 0, 0, 0, 0, costaRica),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d customers, %d invoices in %s\n", stats.Rows["customers"], stats.Rows["invoices"], stats.Elapsed)
}
