package pgsearch_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
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
