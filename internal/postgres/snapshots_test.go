package postgres_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/snapshot"
)

// rowSlice is a snapshot.RowSource over a slice that fails at failAt
// (never when negative).
type rowSlice struct {
	rows   []snapshot.Row
	i      int
	failAt int
	err    error
}

func (s *rowSlice) Next() bool {
	if s.i == s.failAt {
		s.err = errors.New("scan broke")
		return false
	}
	s.i++
	return s.i <= len(s.rows)
}
func (s *rowSlice) Row() snapshot.Row { return s.rows[s.i-1] }
func (s *rowSlice) Err() error        { return s.err }

func rows(n int) []snapshot.Row {
	out := make([]snapshot.Row, n)
	for i := range out {
		out[i] = snapshot.Row{SortKey: []byte(fmt.Sprintf("k%03d", i)), TotalSpent: int64(i * 100), Doc: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	return out
}

func TestSnapshotsReplaceReadExpire(t *testing.T) {
	t.Parallel()
	b := setup(t)
	repo := postgres.NewSnapshots(b.pool)
	job := b.job(t, "COMP001")
	_, err := repo.Header(b.ctx, job)
	require.True(t, errs.Is(err, errs.NotFound), "%v", err)

	n, spend, err := repo.Replace(b.ctx, job, &rowSlice{rows: rows(9), failAt: -1}, time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(9), n)
	require.Equal(t, snapshot.SpendQuartile{Min: 0, Q1: 200, Median: 400, Q3: 600, Max: 800}, spend)

	// A failing second attempt leaves the first one as it was.
	_, _, err = repo.Replace(b.ctx, job, &rowSlice{rows: rows(3), failAt: 2}, time.Hour)
	require.ErrorContains(t, err, "scan broke")
	h, err := repo.Header(b.ctx, job)
	require.NoError(t, err)
	require.Equal(t, int64(9), h.Rows)
	require.False(t, h.Expired)

	page, err := repo.Rows(b.ctx, job, []byte("k003"), 4)
	require.NoError(t, err)
	require.Len(t, page, 4)
	require.Equal(t, "k004", string(page[0].SortKey), "strictly after the cursor, in key order")
	require.JSONEq(t, `{"n":7}`, string(page[3].Doc))

	_, _, err = repo.Replace(b.ctx, job, &rowSlice{rows: rows(2), failAt: -1}, -time.Second)
	require.NoError(t, err)
	expired, err := repo.Expire(b.ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), expired)
	h, err = repo.Header(b.ctx, job)
	require.NoError(t, err)
	require.True(t, h.Expired)
	page, err = repo.Rows(b.ctx, job, nil, 10)
	require.NoError(t, err)
	require.Empty(t, page, "an expired snapshot's rows are deleted")

	require.NoError(t, repo.Drop(b.ctx, job))
	_, err = repo.Header(b.ctx, job)
	require.True(t, errs.Is(err, errs.NotFound), "%v", err)
}
