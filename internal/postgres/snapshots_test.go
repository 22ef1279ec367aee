package postgres_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/profile/profiletest"
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
	page, err = repo.Rows(b.ctx, job, []byte{}, 10)
	require.NoError(t, err)
	require.Empty(t, page, "an expired snapshot's rows are deleted")

	require.NoError(t, repo.Drop(b.ctx, job))
	_, err = repo.Header(b.ctx, job)
	require.True(t, errs.Is(err, errs.NotFound), "%v", err)
}

// TestSnapshotRowsFollowTheirJob: the rows keep no key of their own to
// jobs (one check per row made the COPY slow); deleting the job deletes
// the record, and the record's delete deletes the rows.
func TestSnapshotRowsFollowTheirJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	repo := postgres.NewSnapshots(b.pool)
	job, other := b.job(t, "COMP001"), b.job(t, "COMP001")
	for _, id := range []string{job, other} {
		_, _, err := repo.Replace(b.ctx, id, &rowSlice{rows: rows(5), failAt: -1}, time.Hour)
		require.NoError(t, err)
	}
	_, err := b.pool.Exec(b.ctx, "DELETE FROM jobs WHERE id = $1", job)
	require.NoError(t, err)
	var left int
	require.NoError(t, b.pool.QueryRow(b.ctx, "SELECT count(*) FROM segment_snapshot_rows WHERE job_id = $1", job).Scan(&left))
	require.Zero(t, left, "a deleted job's snapshot rows are deleted with it")
	page, err := repo.Rows(b.ctx, other, []byte{}, 10)
	require.NoError(t, err)
	require.Len(t, page, 5, "another job's snapshot is untouched")

	require.NoError(t, repo.Drop(b.ctx, other))
	require.NoError(t, b.pool.QueryRow(b.ctx, "SELECT count(*) FROM segment_snapshot_rows WHERE job_id = $1", other).Scan(&left))
	require.Zero(t, left, "Drop deletes the rows with the record")
}

// TestRespellIsAppendJSON: a snapshot copied by the database keeps the
// engine's jsonb and a page respells PostgreSQL's rendering of it
// (profile.Respell); for random profiles (every string that needs
// escaping, scores that Go writes with an exponent, amounts at their
// limits) that gives back AppendJSON's bytes exactly.
func TestRespellIsAppendJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := rand.New(rand.NewPCG(7, 11))
	var docs []string
	var want []string
	for len(docs) < 5000 {
		p := profiletest.Profile(r)
		if r.IntN(4) == 0 {
			tiny, huge := 1e-7*r.Float64(), 1e22*(1+r.Float64())
			p.PAlive, p.ExpectedPurchases90d = &tiny, &huge
		}
		for _, score := range []*float64{p.PAlive, p.ExpectedPurchases90d} {
			if score != nil && *score == 0 {
				*score = 0 // jsonb's numeric has no -0
			}
		}
		doc := p.AppendJSON(nil)
		if strings.Contains(string(doc), `\u0000`) {
			continue // jsonb refuses the NUL character
		}
		// The profile as JSON carries it: bytes that are not UTF-8
		// were written as U+FFFD, which reads back as the character.
		read, err := profile.DecodeFields(doc, nil)
		if err != nil {
			continue // amounts past what a decimal of cents reads back
		}
		docs, want = append(docs, string(doc)), append(want, string(read.AppendJSON(nil)))
	}
	rows, err := b.pool.Query(b.ctx, "SELECT d::jsonb::text FROM unnest($1::text[]) WITH ORDINALITY AS u(d, i) ORDER BY i", docs)
	require.NoError(t, err)
	rendered, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Len(t, rendered, len(want))
	differ := 0
	for i, jsonb := range rendered {
		if jsonb != want[i] {
			differ++
		}
		got, err := profile.Respell([]byte(jsonb))
		require.NoError(t, err)
		require.Equal(t, want[i], string(got), "rendered by PostgreSQL as %s", jsonb)
		long, err := profile.DecodeFields([]byte(jsonb), nil)
		require.NoError(t, err)
		require.Equal(t, string(long.AppendJSON(nil)), string(got), "the long way")
	}
	require.Equal(t, len(want), differ, "PostgreSQL's rendering differs from every document")
}

// TestRespellTheLongWay: a document with a member a profile has not, or
// without one it has, is decoded and encoded.
func TestRespellTheLongWay(t *testing.T) {
	p := profile.Profile{CustomerID: "C1", Name: "Ana <Gómez>"}
	want := string(p.AppendJSON(nil))
	for _, doc := range []string{`{"customerId": "C1", "name": "Ana <Gómez>"}`, `{"customerId":"C1","name":"Ana \u003cGómez\u003e","extra":1}`} {
		got, err := profile.Respell([]byte(doc))
		require.NoError(t, err)
		require.Equal(t, want, string(got), doc)
	}
	_, err := profile.Respell([]byte(`{"customerId": `))
	require.Error(t, err)
}
