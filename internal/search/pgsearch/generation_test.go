package pgsearch_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/testenv"
)

// TestLoadingGeneration: a new generation loads into a bare table with
// no index, written to by plain COPY (a retried batch writes
// its customers a second time); Count seals it once: one row per
// customer, the newest version (on a tie, the row written last), with its
// primary key and every index. After that, writes
// replace rows by customer id.
func TestLoadingGeneration(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Postgres(t)
	e := pgsearch.New(pool, "")
	const gen = "20240101t000000_abcdef"
	const table = "customer_profiles_" + gen
	state := func() (persistence string, indexes int) {
		t.Helper()
		require.NoError(t, pool.QueryRow(ctx, `SELECT c.relpersistence::text, (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid)
			FROM pg_class c WHERE c.oid = $1::regclass`, table).Scan(&persistence, &indexes))
		return persistence, indexes
	}

	require.NoError(t, e.CreateGeneration(ctx, gen))
	persistence, indexes := state()
	require.Equal(t, "p", persistence, "a loading table is logged: SET LOGGED at the seal costs more than it saves")
	require.Zero(t, indexes)

	require.NoError(t, e.Index(ctx, gen, []profile.Profile{versioned("c1", "v1", 1), versioned("c2", "v5", 5)}))
	require.NoError(t, e.Index(ctx, gen, []profile.Profile{versioned("c3", "first", 7), versioned("c4", "v3", 3)}))
	// The retried batches: c2 newer, c3 the same version written again,
	// c4 older (a stale retry loses to what is there).
	require.NoError(t, e.Index(ctx, gen, []profile.Profile{versioned("c2", "v6", 6), versioned("c3", "retry", 7)}))
	require.NoError(t, e.Index(ctx, gen, []profile.Profile{versioned("c4", "v2", 2)}))
	n, err := e.Documents(ctx, gen)
	require.NoError(t, err)
	require.EqualValues(t, 7, n, "Documents reads only: the loading table keeps every row written")
	persistence, indexes = state()
	require.Equal(t, "p", persistence)
	require.Zero(t, indexes)

	n, err = e.Count(ctx, gen)
	require.NoError(t, err)
	require.EqualValues(t, 4, n)
	persistence, indexes = state()
	require.Equal(t, "p", persistence)
	require.Equal(t, len(pgsearch.IndexSQL(table)), indexes)
	n, err = e.Count(ctx, gen) // sealed already: a no-op
	require.NoError(t, err)
	require.EqualValues(t, 4, n)

	require.NoError(t, e.Promote(ctx, gen))
	require.Equal(t, map[string]string{"c1": "v1", "c2": "v6", "c3": "retry", "c4": "v3"}, served(t, e, gen))

	// Sealed: a write replaces the customers it names and adds new ones,
	// from this engine and from another one that never saw it loading.
	require.NoError(t, e.Index(ctx, gen, []profile.Profile{versioned("c1", "again", 1), versioned("c5", "new", 1)}))
	other := pgsearch.New(pool, "")
	require.NoError(t, other.Index(ctx, gen, []profile.Profile{versioned("c6", "other", 1)}))
	require.NoError(t, other.Index(ctx, gen, []profile.Profile{versioned("c2", "other", 1)}))
	require.Equal(t, map[string]string{"c1": "again", "c2": "other", "c3": "retry", "c4": "v3", "c5": "new", "c6": "other"}, served(t, e, gen))
}

// TestSealLongTableName: index names stay distinct when the table's name
// leaves no room for their suffixes within PostgreSQL's 63 bytes.
func TestSealLongTableName(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Postgres(t)
	const view = "bench_sync_800000_s1_pg_profiles_with_a_long_name"
	e := pgsearch.New(pool, view)
	const gen = "20240101t000000_abcdef"
	require.NoError(t, e.CreateGeneration(ctx, gen))
	require.NoError(t, e.Index(ctx, gen, []profile.Profile{versioned("c1", "v1", 1), versioned("c2", "v1", 1)}))
	require.NoError(t, e.Promote(ctx, gen))
	var indexes int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass",
		view+"_"+gen).Scan(&indexes))
	require.Equal(t, len(pgsearch.IndexSQL(view+"_"+gen)), indexes)
	require.NoError(t, e.Upsert(ctx, []profile.Profile{versioned("c1", "v2", 2)}))
	require.Equal(t, map[string]string{"c1": "v2", "c2": "v1"}, served(t, e, gen))
}

// TestPromoteOverAWiderGeneration: a generation of a release whose tables
// had more columns serves; promoting one of this release replaces the
// view (CREATE OR REPLACE VIEW cannot drop columns) and drops the old
// table, in the swap's transaction.
func TestPromoteOverAWiderGeneration(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Postgres(t)
	e := pgsearch.New(pool, "")
	const old, gen = "20230101t000000_abcdef", "20240101t000000_abcdef"
	require.NoError(t, e.CreateGeneration(ctx, old))
	require.NoError(t, e.Index(ctx, old, []profile.Profile{versioned("c1", "old", 1)}))
	require.NoError(t, e.Promote(ctx, old))
	_, err := pool.Exec(ctx, `ALTER TABLE customer_profiles_`+old+` ADD COLUMN email text NOT NULL DEFAULT '';
		CREATE OR REPLACE VIEW customer_profiles AS SELECT * FROM customer_profiles_`+old)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"c1": "old"}, served(t, e, old))

	require.NoError(t, e.CreateGeneration(ctx, gen))
	require.NoError(t, e.Index(ctx, gen, []profile.Profile{versioned("c1", "new", 2), versioned("c2", "new", 2)}))
	require.NoError(t, e.Promote(ctx, gen))
	require.Equal(t, map[string]string{"c1": "new", "c2": "new"}, served(t, e, gen))
	var left int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1",
		"customer_profiles_"+old).Scan(&left))
	require.Zero(t, left)
}

// TestDocumentsCompressWithLZ4: where the server has lz4, a document long
// enough to be compressed is compressed with it, whether a full sync's
// COPY or an upsert wrote it (the upsert's staging table must not fall
// back to pglz); without lz4 the table is still created, with pglz.
func TestDocumentsCompressWithLZ4(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Postgres(t)
	e := pgsearch.New(pool, "")
	var lz4 bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_settings
		WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))`).Scan(&lz4))
	long := func(id string, version int64) profile.Profile {
		p := versioned(id, "long", version)
		for i := range 300 {
			p.Products = append(p.Products, fmt.Sprintf("Producto de la casa número %03d", i))
		}
		return p
	}
	const gen = "20240101t000000_abcdef"
	require.NoError(t, e.CreateGeneration(ctx, gen))
	require.NoError(t, e.Index(ctx, gen, []profile.Profile{long("c1", 1), versioned("short", "short", 1)}))
	require.NoError(t, e.Promote(ctx, gen))
	require.NoError(t, e.Upsert(ctx, []profile.Profile{long("c2", 1)}))
	want := "pglz"
	if lz4 {
		want = "lz4"
	}
	t.Logf("server has lz4: %v", lz4)
	for _, id := range []string{"c1", "c2"} {
		var method *string
		require.NoError(t, pool.QueryRow(ctx, "SELECT pg_column_compression(doc) FROM customer_profiles WHERE customer_id = $1", id).Scan(&method))
		require.NotNil(t, method, "%s's document is long enough to be compressed", id)
		require.Equal(t, want, *method, id)
	}
}

// TestEarlierLayoutStaysReadable: after an upgrade, the serving generation
// was written by the release before company_key and the cents (money as
// numeric(14,2), no company_key). This release's statements fail on it
// until ServeEarlierLayout points the view at it with those columns
// computed; then a company's search, filtered and sorted by money, gives
// what it gave before the upgrade, and the next full sync's generation
// serves as usual.
func TestEarlierLayoutStaysReadable(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Postgres(t)
	e := pgsearch.New(pool, "")
	const old, gen = "20230101t000000_abcdef", "20240101t000000_abcdef"
	var profiles []profile.Profile
	for i := range 30 {
		company := []string{"C1", "COMP002"}[i%2] // keys of both signs
		profiles = append(profiles, customer(fmt.Sprintf("c%02d", i), company, fmt.Sprintf("Cliente %d", i), "", "", "", "Cartago",
			nil, int64(i%7), profile.Cents(1000+(i*7919)%5000), nil, nil))
	}
	require.NoError(t, e.CreateGeneration(ctx, old))
	require.NoError(t, e.Index(ctx, old, profiles))
	require.NoError(t, e.Promote(ctx, old))
	q := search.Query{Size: 50}
	f, err := segment.Decode([]byte(`{"companyId":"C1","minTotalSpent":20}`))
	require.NoError(t, err)
	q.Filter = f
	q.Sort, err = segment.ParseSort("totalSpent")
	require.NoError(t, err)
	want, err := e.Search(ctx, q)
	require.NoError(t, err)
	require.NotEmpty(t, want.Customers)

	// The earlier release's table: money in numeric(14,2), no company_key.
	table := "customer_profiles_" + old
	_, err = pool.Exec(ctx, `DROP VIEW customer_profiles;
		ALTER TABLE `+table+` ADD COLUMN total_spent numeric(14,2), ADD COLUMN average_ticket numeric(14,2);
		UPDATE `+table+` SET total_spent = total_spent_cents / 100.0, average_ticket = average_ticket_cents / 100.0;
		ALTER TABLE `+table+` DROP COLUMN company_key, DROP COLUMN total_spent_cents, DROP COLUMN average_ticket_cents;
		CREATE VIEW customer_profiles AS SELECT * FROM `+table)
	require.NoError(t, err)
	_, err = e.Search(ctx, q)
	require.Error(t, err, "this release's statements read columns the earlier generation lacks")

	earlier, err := e.ServeEarlierLayout(ctx)
	require.NoError(t, err)
	require.True(t, earlier)
	got, err := e.Search(ctx, q)
	require.NoError(t, err)
	require.Equal(t, want, got)
	stmts, err := e.Statements(search.Query{Filter: f})
	require.NoError(t, err)
	require.Equal(t, pgsearch.CompanyKey("C1"), stmts[0].Args[0])
	require.Negative(t, pgsearch.CompanyKey("C1"))
	require.Positive(t, pgsearch.CompanyKey("COMP002"))
	for _, company := range []string{"C1", "COMP002"} {
		var key int64
		require.NoError(t, pool.QueryRow(ctx, "SELECT company_key FROM customer_profiles WHERE company_id = $1 LIMIT 1", company).Scan(&key))
		require.Equal(t, pgsearch.CompanyKey(company), key, "SQL computes %s's key as Go does", company)
	}

	require.NoError(t, e.CreateGeneration(ctx, gen))
	require.NoError(t, e.Index(ctx, gen, profiles))
	require.NoError(t, e.Promote(ctx, gen))
	earlier, err = e.ServeEarlierLayout(ctx)
	require.NoError(t, err)
	require.False(t, earlier)
	got, err = e.Search(ctx, q)
	require.NoError(t, err)
	require.Equal(t, want, got)
}
