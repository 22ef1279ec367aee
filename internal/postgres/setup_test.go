package postgres_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/testenv"
)

// testBundle is a migrated schema of the test's own, reached directly and
// through a proxy the test can cut (a database outage for this test only).
type testBundle struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	proxy *testenv.Proxy
	// cut is a pool on the same schema through proxy.
	cut *pgxpool.Pool
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	raw := testenv.PostgresURL(t)
	pool, err := pgxpool.New(ctx, raw)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = postgres.Migrate(ctx, pool)
	require.NoError(t, err)

	proxy := testenv.NewProxy(t, raw)
	u, err := url.Parse(raw)
	require.NoError(t, err)
	u.Host = proxy.URL()[len(u.Scheme+"://"):]
	cut, err := pgxpool.New(ctx, u.String())
	require.NoError(t, err)
	t.Cleanup(cut.Close)
	return &testBundle{ctx: ctx, pool: pool, proxy: proxy, cut: cut}
}

// job inserts a queued job of company (admin's when "") and returns its id.
func (b *testBundle) job(t *testing.T, company string) string {
	t.Helper()
	id := uuid.NewString()
	_, err := b.pool.Exec(b.ctx, `INSERT INTO jobs (id, company_id, type, state, params) VALUES ($1, NULLIF($2, ''), 'export', 'queued', '{}')`, id, company)
	require.NoError(t, err)
	return id
}
