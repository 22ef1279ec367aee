package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/postgres"
)

func TestKeysRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	keys := postgres.NewKeys(b.pool)
	k := auth.StoredKey{Key: auth.Key{ID: "k1", Name: "one", Prefix: "abcdef", CompanyID: "COMP001",
		Scopes: []auth.Scope{auth.ScopeSearch, auth.ScopeExport}}, SecretHash: []byte{1, 2, 3}}
	created, err := keys.CreateKey(b.ctx, k)
	require.NoError(t, err)
	require.False(t, created.IsZero())

	got, err := keys.KeyByPrefix(b.ctx, "abcdef")
	require.NoError(t, err)
	require.Equal(t, k.Scopes, got.Scopes)
	require.Equal(t, []byte{1, 2, 3}, got.SecretHash)
	require.Equal(t, "COMP001", got.CompanyID)

	_, err = keys.CreateKey(b.ctx, k)
	require.True(t, errs.Is(err, errs.Conflict), "a second key with the same id: %v", err)

	_, err = keys.KeyByPrefix(b.ctx, "zzzzzz")
	require.True(t, errs.Is(err, errs.NotFound), "%v", err)
	_, err = keys.RevokeKey(b.ctx, "nope")
	require.True(t, errs.Is(err, errs.NotFound), "%v", err)

	revoked, err := keys.RevokeKey(b.ctx, "abcdef")
	require.NoError(t, err)
	require.NotNil(t, revoked.RevokedAt)
	again, err := keys.RevokeKey(b.ctx, "k1")
	require.NoError(t, err)
	require.True(t, revoked.RevokedAt.Equal(*again.RevokedAt), "revoking twice keeps the first time")

	require.NoError(t, keys.TouchKey(b.ctx, "k1"))
	list, err := keys.ListKeys(b.ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.NotNil(t, list[0].LastUsedAt)

	require.NoError(t, keys.DeleteKeys(b.ctx, []string{"k1", "other"}))
	_, err = keys.KeyByPrefix(b.ctx, "abcdef")
	require.True(t, errs.Is(err, errs.NotFound), "deleted: %v", err)
}

// TestOutageIsUnavailable checks the translation of a database that cannot
// be reached: Unavailable, never NotFound (what a missing row would be).
func TestOutageIsUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	keys := postgres.NewKeys(b.cut)
	_, err := keys.KeyByPrefix(b.ctx, "abcdef")
	require.True(t, errs.Is(err, errs.NotFound), "reachable: %v", err)

	b.proxy.Cut()
	_, err = keys.KeyByPrefix(b.ctx, "abcdef")
	require.True(t, errs.Is(err, errs.Unavailable), "cut: %v", err)
	require.NotContains(t, err.Error(), "password")
	_, err = keys.ListKeys(b.ctx)
	require.True(t, errs.Is(err, errs.Unavailable), "cut: %v", err)
	b.proxy.Restore()
}
