package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/testenv"
)

type testBundle struct {
	pool  *pgxpool.Pool
	store *auth.Store
}

// setup gives the test a migrated schema of its own and a key store on it.
func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := testenv.Postgres(t)
	_, err := postgres.Migrate(context.Background(), pool)
	require.NoError(t, err)
	return &testBundle{pool: pool, store: auth.NewStore(postgres.NewKeys(pool))}
}

func TestParseScopes(t *testing.T) {
	t.Parallel()
	got, err := auth.ParseScopes(" search, export,search ")
	require.NoError(t, err)
	require.Equal(t, []auth.Scope{auth.ScopeSearch, auth.ScopeExport}, got, "trimmed, deduplicated, in order")
	_, err = auth.ParseScopes("search,root")
	require.ErrorContains(t, err, `unknown scope "root"`)
	_, err = auth.ParseScopes(" , ")
	require.Error(t, err)
}

func TestCreateRefusesIncompleteKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for name, nk := range map[string]auth.NewKey{
		"no name":           {CompanyID: "COMP001", Scopes: []auth.Scope{auth.ScopeSearch}},
		"neither":           {Name: "x", Scopes: []auth.Scope{auth.ScopeSearch}},
		"admin and company": {Name: "x", Admin: true, CompanyID: "COMP001", Scopes: []auth.Scope{auth.ScopeSearch}},
		"no scope":          {Name: "x", CompanyID: "COMP001"},
	} {
		_, _, err := b.store.Create(ctx, nk)
		require.True(t, errs.Is(err, errs.Invalid), "%s: %v", name, err)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k, secret, err := b.store.Create(ctx, auth.NewKey{Name: "crm", CompanyID: "COMP001", Scopes: []auth.Scope{auth.ScopeSearch}})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, "rk_"+k.Prefix+"_"), "the secret names its prefix")

	got, err := b.store.Authenticate(ctx, secret)
	require.NoError(t, err)
	require.Equal(t, k.ID, got.ID)
	require.Equal(t, "COMP001", got.CompanyID)
	require.True(t, got.Has(auth.ScopeSearch))
	require.False(t, got.Has(auth.ScopeExport))

	for _, bad := range []string{"", "rk_", "nonsense", secret + "x", "rk_" + k.Prefix + "_" + strings.Repeat("a", 24), "rk_zzzzzz_" + secret[10:]} {
		_, err := b.store.Authenticate(ctx, bad)
		require.True(t, errs.Is(err, errs.Unauthorized), "%q: %v", bad, err)
	}

	var stored []byte
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT secret_hash FROM api_keys WHERE id = $1", k.ID).Scan(&stored))
	require.Len(t, stored, 32, "a SHA-256, not the secret")
	require.NotContains(t, string(stored), secret[10:])
}

func TestLastUsedIsWrittenAtMostOnceAMinute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k, secret, err := b.store.Create(ctx, auth.NewKey{Name: "ops", Admin: true, Scopes: auth.AllScopes})
	require.NoError(t, err)
	_, err = b.store.Authenticate(ctx, secret)
	require.NoError(t, err)
	var first time.Time
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT last_used_at FROM api_keys WHERE id = $1", k.ID).Scan(&first))
	_, err = b.store.Authenticate(ctx, secret)
	require.NoError(t, err)
	var second time.Time
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT last_used_at FROM api_keys WHERE id = $1", k.ID).Scan(&second))
	require.Equal(t, first, second, "a fresh last_used_at is not rewritten")

	_, err = b.pool.Exec(ctx, "UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1", k.ID)
	require.NoError(t, err)
	_, err = b.store.Authenticate(ctx, secret)
	require.NoError(t, err)
	var third time.Time
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT last_used_at FROM api_keys WHERE id = $1", k.ID).Scan(&third))
	require.WithinDuration(t, time.Now(), third, 30*time.Second, "a stale last_used_at is refreshed")
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	byID, secret1, err := b.store.Create(ctx, auth.NewKey{Name: "a", CompanyID: "COMP001", Scopes: []auth.Scope{auth.ScopeSearch}})
	require.NoError(t, err)
	byPrefix, secret2, err := b.store.Create(ctx, auth.NewKey{Name: "b", CompanyID: "COMP002", Scopes: []auth.Scope{auth.ScopeExport}})
	require.NoError(t, err)

	got, err := b.store.Revoke(ctx, byID.ID)
	require.NoError(t, err)
	require.NotNil(t, got.RevokedAt)
	_, err = b.store.Revoke(ctx, byPrefix.Prefix)
	require.NoError(t, err)
	for _, s := range []string{secret1, secret2} {
		_, err := b.store.Authenticate(ctx, s)
		require.True(t, errs.Is(err, errs.Unauthorized), err)
	}
	again, err := b.store.Revoke(ctx, byID.ID)
	require.NoError(t, err)
	require.Equal(t, got.RevokedAt.UTC(), again.RevokedAt.UTC(), "revoking twice keeps the first time")
	_, err = b.store.Revoke(ctx, "no-such-key")
	require.True(t, errs.Is(err, errs.NotFound), err)

	list, err := b.store.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "b", list[0].Name, "newest first")
}
