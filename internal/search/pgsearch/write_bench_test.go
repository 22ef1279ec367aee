package pgsearch_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
	"github.com/reactivation/reactivation/internal/testenv"
)

// BenchmarkFullLoad times a full sync's writes of BENCH_LOAD_CUSTOMERS
// synthetic profiles (default 100,000), by 4 writers in batches of 5,000,
// then the seal, two ways in one run (alternating which goes first): delete-then-copy into a table with
// its key and indexes (the write path before loading tables), and
// Index into a loading generation then Count (which seals it).
//
//	go test ./internal/search/pgsearch/ -run '^$' -bench FullLoad -benchtime 1x
func BenchmarkFullLoad(b *testing.B) {
	n := 100_000
	if v := os.Getenv("BENCH_LOAD_CUSTOMERS"); v != "" {
		fmt.Sscan(v, &n)
	}
	docs := syntheticProfiles(n)
	pool := testenv.Postgres(b)
	ctx := context.Background()
	var before, after, sealed time.Duration
	for i := 0; i < b.N; i++ {
		old, gen := fmt.Sprintf("customer_profiles_20240101t000000_%06d", i), fmt.Sprintf("20240101t000001_%06d", i)
		e := pgsearch.New(pool, "")
		runBefore := func() {
			before += timeLoad(b, docs, func(batch []profile.Profile) error { return deleteThenCopy(ctx, pool, old, batch) },
				func() error {
					_, err := pool.Exec(ctx, pgsearch.CreateTableSQL(old))
					return err
				},
				func() error { return nil })
		}
		runAfter := func() {
			after += timeLoad(b, docs, func(batch []profile.Profile) error { return e.Index(ctx, gen, batch) },
				func() error { return e.CreateGeneration(ctx, gen) },
				func() error {
					start := time.Now()
					_, err := e.Count(ctx, gen)
					sealed += time.Since(start)
					return err
				})
		}
		// Alternate which runs first: the second pays for the first's checkpoint.
		if i%2 == 0 {
			runBefore()
			runAfter()
		} else {
			runAfter()
			runBefore()
		}
	}
	runs := float64(b.N)
	b.ReportMetric(before.Seconds()/runs, "before_s")
	b.ReportMetric(after.Seconds()/runs, "after_s")
	b.ReportMetric(sealed.Seconds()/runs, "after_seal_s")
	b.ReportMetric(after.Seconds()/before.Seconds(), "after_vs_before")
}

// timeLoad creates a table, writes docs with write from 4 goroutines in
// batches of 5,000 and finishes; it returns the whole time.
func timeLoad(b *testing.B, docs []profile.Profile, write func([]profile.Profile) error, create, finish func() error) time.Duration {
	b.Helper()
	start := time.Now()
	if err := create(); err != nil {
		b.Fatal(err)
	}
	batches := make(chan []profile.Profile)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range batches {
				if err := write(batch); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < len(docs); i += 5000 {
		batches <- docs[i:min(i+5000, len(docs))]
	}
	close(batches)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	if err := finish(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// deleteThenCopy is the write path before loading tables.
func deleteThenCopy(ctx context.Context, pool *pgxpool.Pool, table string, docs []profile.Profile) error {
	ids := make([]string, len(docs))
	rows := make([][]any, len(docs))
	for i, p := range docs {
		ids[i], rows[i] = p.CustomerID, pgsearch.Row(p)
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM "+pgx.Identifier{table}.Sanitize()+" WHERE customer_id = ANY($1)", ids); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, pgsearch.Columns, pgx.CopyFromRows(rows))
		return err
	})
}

// syntheticProfiles are n profiles shaped like the demo's: 40 companies,
// a few products and ingredients of a catalog of 300 and 120.
func syntheticProfiles(n int) []profile.Profile {
	out := make([]profile.Profile, n)
	for i := range out {
		var products, ingredients []string
		for k := 0; k < 3+i%5; k++ {
			products = append(products, fmt.Sprintf("Producto %d", (i*7+k*31)%300))
		}
		for k := 0; k < 5+i%7; k++ {
			ingredients = append(ingredients, fmt.Sprintf("Ingrediente %d", (i*11+k*17)%120))
		}
		last := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(i%900) * 24 * time.Hour)
		p := customer(fmt.Sprintf("cust-%08d", i), fmt.Sprintf("C%02d", i%40), "Nombre "+strings.Repeat("x", i%9),
			fmt.Sprintf("c%d@example.com", i), "8888-0000", []string{"F", "M", ""}[i%3], fmt.Sprintf("Ciudad %d", i%60),
			&last, int64(1+i%30), profile.Cents(1000+i%50000), products, ingredients)
		p.SourceVersion = int64(i)
		out[i] = p
	}
	return out
}
