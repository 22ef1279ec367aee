package postgres_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/idempotency"
	"github.com/reactivation/reactivation/internal/postgres"
)

func TestIdempotencyClaimAnswerRelease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	repo := postgres.NewIdempotency(b.pool)
	_, err := repo.Lookup(b.ctx, "key1", "k")
	require.True(t, errs.Is(err, errs.NotFound), "%v", err)

	ok, err := repo.Claim(b.ctx, "key1", "k", []byte("h1"), time.Hour, time.Hour)
	require.NoError(t, err)
	require.True(t, ok, "a fresh key is claimed")
	ok, err = repo.Claim(b.ctx, "key1", "k", []byte("h2"), time.Hour, time.Hour)
	require.NoError(t, err)
	require.False(t, ok, "a held key is not claimed twice")
	ok, err = repo.Claim(b.ctx, "key2", "k", []byte("h2"), time.Hour, time.Hour)
	require.NoError(t, err)
	require.True(t, ok, "keys are per API key")

	rec, err := repo.Lookup(b.ctx, "key1", "k")
	require.NoError(t, err)
	require.Equal(t, []byte("h1"), rec.RequestHash)
	require.Nil(t, rec.Response, "no answer yet")

	ok, err = repo.Claim(b.ctx, "key1", "k", []byte("h3"), time.Hour, 0)
	require.NoError(t, err)
	require.True(t, ok, "an unanswered key held past abandoned is taken over")

	require.NoError(t, repo.Answer(b.ctx, "key1", "k", idempotency.Response{Status: 201, Location: "/x", Body: []byte("{}")}))
	require.NoError(t, repo.Unclaim(b.ctx, "key1", "k"), "an answered key stays")
	rec, err = repo.Lookup(b.ctx, "key1", "k")
	require.NoError(t, err)
	require.Equal(t, &idempotency.Response{Status: 201, Location: "/x", Body: []byte("{}")}, rec.Response)

	require.NoError(t, repo.Unclaim(b.ctx, "key2", "k"))
	_, err = repo.Lookup(b.ctx, "key2", "k")
	require.True(t, errs.Is(err, errs.NotFound), "an unanswered key is released: %v", err)

	ok, err = repo.Claim(b.ctx, "key3", "k", []byte("h"), -time.Second, time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	n, err := repo.DeleteExpired(b.ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "only the record past its TTL")
}
