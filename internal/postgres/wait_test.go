package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/testenv"
)

// TestWaitMigratedWaitsForTheMigrationJob checks the init containers'
// check: on a fresh schema every embedded migration is pending and
// WaitMigrated gives up when its deadline passes; once another process
// migrates, it returns.
func TestWaitMigratedWaitsForTheMigrationJob(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Postgres(t)
	pending, err := postgres.Pending(ctx, pool)
	require.NoError(t, err)
	require.NotEmpty(t, pending)
	require.Equal(t, 1, pending[0])

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err = postgres.WaitMigrated(short, pool, 50*time.Millisecond)
	require.ErrorContains(t, err, "not applied yet")

	done := make(chan error, 1)
	go func() {
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		done <- postgres.WaitMigrated(waitCtx, pool, 50*time.Millisecond)
	}()
	time.Sleep(200 * time.Millisecond)
	applied, err := postgres.Migrate(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, pending, applied)
	require.NoError(t, <-done)
	pending, err = postgres.Pending(ctx, pool)
	require.NoError(t, err)
	require.Empty(t, pending)
}
