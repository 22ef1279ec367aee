package segsearch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/segsearch"
	"github.com/reactivation/reactivation/internal/snapshot"
	"github.com/reactivation/reactivation/internal/testenv"
)

const gen = "20240101t000000_abcdef"

type testBundle struct {
	d   *app.App
	svc *segsearch.Service
}

// setup migrates a fresh service schema, opens the process's services
// over it (the real engine, PostgreSQL and Redis) and serves a generation
// with n customers of company C1 and n/2 of C2.
func setup(t *testing.T, n int) *testBundle {
	t.Helper()
	ctx := context.Background()
	cfg := testenv.Config(t)
	d := testenv.App(t, cfg)
	var err error
	require.NoError(t, d.Engine.CreateGeneration(ctx, gen))
	require.NoError(t, d.Engine.Promote(ctx, gen))
	require.NoError(t, d.Engine.Upsert(ctx, append(customers("C1", n), customers("C2", n/2)...)))
	_, err = d.Engine.Count(ctx, gen) // makes the writes visible
	require.NoError(t, err)
	return &testBundle{d: d, svc: d.Segments}
}

func customers(company string, n int) []profile.Profile {
	now := time.Now()
	out := make([]profile.Profile, n)
	for i := range out {
		last := now.Add(-time.Duration(i+1) * 24 * time.Hour)
		p := profile.Profile{CustomerID: fmt.Sprintf("%s-%03d", company, i), CompanyID: company,
			Name: fmt.Sprintf("Customer %03d", i), Gender: profile.GenderFemale, City: "San José",
			LastPurchaseAt: &last, FirstPurchaseAt: &last, TotalPurchases: 1, TotalSpent: profile.Cents(1000 + i)}
		p.AverageTicket = profile.AverageCents(p.TotalSpent, p.TotalPurchases)
		out[i] = p
	}
	return out
}

func (b *testBundle) start(t *testing.T, company string) jobs.Job {
	t.Helper()
	var f segment.Filter
	f.PinCompany(company)
	job, err := b.svc.Start(context.Background(), f, segment.DefaultSort, "test")
	require.NoError(t, err)
	require.Equal(t, jobs.TypeSegmentSearch, job.Type)
	return job
}

// TestRunFreezesTheSegmentAndPagesIt runs a search (as the worker does) on
// more customers than one page: the job succeeds with the summary of the
// company's customers only, and the pages hold each of them once.
func TestRunFreezesTheSegmentAndPagesIt(t *testing.T) {
	b := setup(t, 25)
	ctx := context.Background()
	job := b.start(t, "C1")
	require.NoError(t, b.svc.Run(ctx, job.ID))

	c1 := jobs.Tenant{CompanyID: "C1"}
	done, err := b.svc.Get(ctx, c1, job.ID)
	require.NoError(t, err)
	require.Equal(t, jobs.Succeeded, done.State)
	require.Equal(t, jobs.Progress{Done: 25, Total: 25}, done.Progress)
	var sum snapshot.Summary
	require.NoError(t, json.Unmarshal(done.Result, &sum))
	require.Equal(t, int64(25), sum.Count)

	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5, "the pages never end")
		page, err := b.svc.Results(ctx, c1, job.ID, cursor, 10)
		require.NoError(t, err)
		require.Equal(t, int64(25), page.Total)
		for _, raw := range page.Customers {
			var p profile.Profile
			require.NoError(t, json.Unmarshal(raw, &p))
			require.Equal(t, "C1", p.CompanyID)
			require.False(t, seen[p.CustomerID], "%s twice", p.CustomerID)
			seen[p.CustomerID] = true
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	require.Len(t, seen, 25)
}

// TestResultsWaitForSuccess: pages of a search that has not run are a
// Conflict, not an empty page.
func TestResultsWaitForSuccess(t *testing.T) {
	b := setup(t, 3)
	job := b.start(t, "C1")
	_, err := b.svc.Results(context.Background(), jobs.Tenant{CompanyID: "C1"}, job.ID, "", 10)
	require.True(t, errs.Is(err, errs.Conflict), "got %v", err)
}

// TestOnlyItsCompanysSearches: another company's search and a job of
// another type are not found, exactly like an id that does not exist.
func TestOnlyItsCompanysSearches(t *testing.T) {
	b := setup(t, 3)
	ctx := context.Background()
	job := b.start(t, "C1")
	_, err := b.svc.Get(ctx, jobs.Tenant{CompanyID: "C2"}, job.ID)
	require.True(t, jobs.IsNotFound(err), "another company's search: %v", err)
	_, err = b.svc.Results(ctx, jobs.Tenant{CompanyID: "C2"}, job.ID, "", 10)
	require.True(t, jobs.IsNotFound(err), "another company's pages: %v", err)

	export, err := b.d.Jobs.Create(ctx, jobs.New{CompanyID: "C1", Type: jobs.TypeExport})
	require.NoError(t, err)
	_, err = b.svc.Get(ctx, jobs.Tenant{CompanyID: "C1"}, export.ID)
	require.True(t, jobs.IsNotFound(err), "an export is no segment search: %v", err)
}

// TestRunRejectsParamsForGood: params that cannot be decoded fail the
// task without retries.
func TestRunRejectsParamsForGood(t *testing.T) {
	b := setup(t, 1)
	ctx := context.Background()
	job, err := b.d.Jobs.Create(ctx, jobs.New{CompanyID: "C1", Type: jobs.TypeSegmentSearch,
		Params: map[string]any{"filter": map[string]any{"noSuchField": 1}}})
	require.NoError(t, err)
	err = b.svc.Run(ctx, job.ID)
	require.Error(t, err)
	require.True(t, errors.Is(err, asynq.SkipRetry), "got %v", err)
}
