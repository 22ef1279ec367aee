package postgres_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/scores"
)

func TestScoresPerGeneration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	repo := postgres.NewScores(b.pool)
	asOf := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	m := &scores.Model{CompanyID: "C1", AsOf: asOf, BusinessDate: asOf.Truncate(24 * time.Hour), Customers: 10, Prospects: 2,
		Recency: [4]int64{1, 2, 3, 4}, Params: &scores.Params{R: 1, Alpha: 2, A: 3, B: 4}}
	noFit := &scores.Model{CompanyID: "C2", AsOf: asOf, BusinessDate: asOf.Truncate(24 * time.Hour), Fallback: "too few repeat buyers"}
	require.NoError(t, repo.SaveModels(b.ctx, "g1", []*scores.Model{m, noFit}))
	require.NoError(t, repo.SaveModels(b.ctx, "g2", []*scores.Model{m}))
	require.NoError(t, repo.SaveModels(b.ctx, "g1", []*scores.Model{m, noFit}), "saving again replaces")

	got, err := repo.LoadModels(b.ctx, "g1")
	require.NoError(t, err)
	require.Len(t, got, 2)
	byCompany := map[string]*scores.Model{got[0].CompanyID: got[0], got[1].CompanyID: got[1]}
	require.Equal(t, m.Params, byCompany["C1"].Params)
	require.Equal(t, m.Recency, byCompany["C1"].Recency)
	require.Nil(t, byCompany["C2"].Params)
	require.Equal(t, "too few repeat buyers", byCompany["C2"].Fallback)

	require.NoError(t, repo.PruneModels(b.ctx, "g2"))
	ok, err := repo.HasModels(b.ctx, "g1")
	require.NoError(t, err)
	require.False(t, ok)
	ok, err = repo.HasModels(b.ctx, "g2")
	require.NoError(t, err)
	require.True(t, ok)
}
