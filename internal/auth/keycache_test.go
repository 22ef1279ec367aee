package auth_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/postgres"
)

// countingKeys is the PostgreSQL repository, counting its key lookups.
type countingKeys struct {
	auth.Repository
	lookups atomic.Int64
}

func (c *countingKeys) KeyByPrefix(ctx context.Context, prefix string) (auth.StoredKey, error) {
	c.lookups.Add(1)
	return c.Repository.KeyByPrefix(ctx, prefix)
}

// TestCachedKeysSkipPostgresAndRevocationReachesEveryReplica: two API
// replicas (two cached stores over the same PostgreSQL) read a known key
// from PostgreSQL once per TTL; a wrong secret of a cached key is still
// refused; a key revoked through one replica is refused there at once and
// by the other within the TTL.
func TestCachedKeysSkipPostgresAndRevocationReachesEveryReplica(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const ttl = time.Second
	repoA, repoB := &countingKeys{Repository: postgres.NewKeys(b.pool)}, &countingKeys{Repository: postgres.NewKeys(b.pool)}
	a, other := auth.NewCachedStore(repoA, ttl), auth.NewCachedStore(repoB, ttl)
	k, secret, err := a.Create(ctx, auth.NewKey{Name: "replicas", CompanyID: "COMP001", Scopes: []auth.Scope{auth.ScopeSearch}})
	require.NoError(t, err)

	start := time.Now()
	for range 50 {
		for _, s := range []*auth.Store{a, other} {
			got, err := s.Authenticate(ctx, secret)
			require.NoError(t, err)
			require.Equal(t, k.ID, got.ID)
			require.Equal(t, "COMP001", got.CompanyID)
		}
	}
	// Once per TTL begun: 1 on any machine that does 100 lookups in a second.
	reads := int64(time.Since(start)/ttl) + 1
	require.LessOrEqual(t, repoA.lookups.Load(), reads, "a known key is read from PostgreSQL once per TTL")
	require.LessOrEqual(t, repoB.lookups.Load(), reads)
	wrong := secret[:len(secret)-1] + "x"
	if strings.HasSuffix(secret, "x") {
		wrong = secret[:len(secret)-1] + "y"
	}
	_, err = other.Authenticate(ctx, wrong)
	require.True(t, errs.Is(err, errs.Unauthorized), "a cached key still checks the secret: %v", err)

	_, err = a.Revoke(ctx, k.ID)
	require.NoError(t, err)
	revoked := time.Now()
	_, err = a.Authenticate(ctx, secret)
	require.True(t, errs.Is(err, errs.Unauthorized), "the revoking replica refuses at once: %v", err)
	for {
		// other read the key before the revocation, so its copy expires
		// no later than revoked+ttl: a call that began after that and
		// still succeeded is a failure, however long the call took.
		began := time.Now()
		_, err := other.Authenticate(ctx, secret)
		if err != nil {
			require.True(t, errs.Is(err, errs.Unauthorized), "%v", err)
			break
		}
		require.Less(t, began.Sub(revoked), ttl, "the other replica still accepts the revoked key")
		time.Sleep(10 * time.Millisecond)
	}
	_, err = other.Authenticate(ctx, secret)
	require.True(t, errs.Is(err, errs.Unauthorized), "and keeps refusing: %v", err)
}

// TestUncachedStoreReadsEveryTime: NewStore (the CLI's) and a TTL of 0
// read PostgreSQL on every request.
func TestUncachedStoreReadsEveryTime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	repo := &countingKeys{Repository: postgres.NewKeys(b.pool)}
	s := auth.NewCachedStore(repo, 0)
	_, secret, err := s.Create(ctx, auth.NewKey{Name: "cli", CompanyID: "COMP001", Scopes: []auth.Scope{auth.ScopeSearch}})
	require.NoError(t, err)
	for range 3 {
		_, err := s.Authenticate(ctx, secret)
		require.NoError(t, err)
	}
	require.Equal(t, int64(3), repo.lookups.Load())
}
