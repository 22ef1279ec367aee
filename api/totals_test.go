package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/profile"
)

// serve indexes n customers of each company into a promoted generation.
func serve(t *testing.T, b *testBundle, n int, companies ...string) {
	t.Helper()
	ctx := context.Background()
	const gen = "20240101t000000_totals"
	require.NoError(t, b.deps.Engine.CreateGeneration(ctx, gen))
	var ps []profile.Profile
	for _, c := range companies {
		for i := range n {
			ps = append(ps, profile.Profile{CustomerID: fmt.Sprintf("%s-%02d", c, i), CompanyID: c, Name: fmt.Sprintf("n%02d", i), City: "x"})
		}
	}
	require.NoError(t, b.deps.Engine.Index(ctx, gen, ps))
	require.NoError(t, b.deps.Engine.Promote(ctx, gen))
	require.NoError(t, b.deps.Cache.Promoted(ctx, gen))
}

// TestTotalsCountedOnceAndExactAfterAChange: the first page of a filter
// is counted by the engine; its second page and another sort of the same
// filter reuse that total, even uncached (no-cache); another company
// counts its own; an upsert (the change counter the sync bumps) makes the
// next total counted again, and exact.
func TestTotalsCountedOnceAndExactAfterAChange(t *testing.T) {
	b := setup(t)
	serve(t, b, 5, "C1", "C2")
	c1 := b.key(t, "C1", auth.ScopeSearch)
	c2 := b.key(t, "C2", auth.ScopeSearch)
	counted := func() float64 { return totals(t, b, "counted") }
	reused := func() float64 { return totals(t, b, "reused") }
	search := func(key string, body map[string]any) map[string]any {
		t.Helper()
		res, out := b.do(t, "POST", "/api/v1/customers/search", key, body)
		require.Equal(t, 200, res.StatusCode, out)
		return out
	}

	c0, r0 := counted(), reused()
	first := search(c1, map[string]any{"size": 2, "sort": "name"})
	require.EqualValues(t, 5, first["total"])
	require.Equal(t, c0+1, counted(), "the first page is counted")
	second := search(c1, map[string]any{"size": 2, "sort": "name", "cursor": first["nextCursor"]})
	require.EqualValues(t, 5, second["total"])
	require.Len(t, second["customers"], 2)
	other := search(c1, map[string]any{"size": 3, "sort": "totalSpent:desc"})
	require.EqualValues(t, 5, other["total"])
	require.Equal(t, c0+1, counted(), "later pages and sorts do not count")
	require.Equal(t, r0+2, reused(), "later pages and sorts reuse the total")

	// Another company's same filter is its own total, counted.
	require.EqualValues(t, 5, search(c2, map[string]any{"size": 2, "sort": "name"})["total"])
	require.Equal(t, c0+2, counted())

	ctx := context.Background()
	require.NoError(t, b.deps.Engine.Upsert(ctx, []profile.Profile{{CustomerID: "C1-99", CompanyID: "C1", Name: "new", City: "x"}}))
	require.NoError(t, b.deps.Cache.Changed(ctx))
	after := search(c1, map[string]any{"size": 2, "sort": "totalSpent:desc"})
	require.EqualValues(t, 6, after["total"], "a change makes the next total exact")
	require.Equal(t, c0+3, counted(), "a change invalidates the total")
}

// totals reads reactivation_search_totals_total{result} from /metrics.
func totals(t *testing.T, b *testBundle, result string) float64 {
	t.Helper()
	res, err := http.Get(b.srv.URL + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^reactivation_search_totals_total\{result="` + result + `"\} (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return v
}

// TestSearchRateLimitInTheLookupRoundTrip: the search decides its key's
// rate limit in the same Redis round trip as its cache lookup: within the
// burst it answers (a hit too) with the RateLimit-* headers, over it 429
// with Retry-After, before any answer; another route shares the budget.
func TestSearchRateLimitInTheLookupRoundTrip(t *testing.T) {
	b := setupWith(t, func(c *config.Config) { c.RateLimitPerMinute, c.RateLimitBurst = 1, 3 })
	serve(t, b, 3, "C1")
	key := b.key(t, "C1", auth.ScopeSearch)
	body := map[string]any{"size": 2}
	for i, want := range []string{"MISS", "HIT"} {
		res, out := b.do(t, "POST", "/api/v1/customers/search", key, body)
		require.Equal(t, 200, res.StatusCode, out)
		require.Equal(t, want, res.Header.Get("X-Cache"))
		require.Equal(t, "3", res.Header.Get("RateLimit-Limit"))
		require.Equal(t, strconv.Itoa(2-i), res.Header.Get("RateLimit-Remaining"))
	}
	res, out := b.do(t, "GET", "/api/v1/jobs", key, nil)
	require.Equal(t, 200, res.StatusCode, out)
	require.Equal(t, "0", res.Header.Get("RateLimit-Remaining"), "one budget for every route")
	res, out = b.do(t, "POST", "/api/v1/customers/search", key, body)
	require.Equal(t, 429, res.StatusCode, out)
	require.Empty(t, res.Header.Get("X-Cache"), "refused before any answer")
	retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, 60, retry, 1, "one request a minute refills")
}

// TestSameBodyEachKeysOwnScope: the API remembers decoded search bodies,
// by key scope and body; the same bytes sent by two companies' keys and by
// an admin key each answer in their own scope, whichever came first, and
// an admin body without companyId is refused every time.
func TestSameBodyEachKeysOwnScope(t *testing.T) {
	b := setup(t)
	serve(t, b, 3, "C1", "C2")
	c1, c2, admin := b.key(t, "C1", auth.ScopeSearch), b.key(t, "C2", auth.ScopeSearch), b.key(t, "", auth.ScopeSearch)
	const body = `{"city":"x","size":10,"sort":"name"}`
	for range 2 {
		for key, company := range map[string]string{c1: "C1", c2: "C2"} {
			res, out := b.do(t, "POST", "/api/v1/customers/search", key, body)
			require.Equal(t, 200, res.StatusCode, out)
			customers := out["customers"].([]any)
			require.Len(t, customers, 3)
			for _, c := range customers {
				require.Equal(t, company, c.(map[string]any)["companyId"])
			}
		}
		res, out := b.do(t, "POST", "/api/v1/customers/search", admin, body)
		require.Equal(t, 400, res.StatusCode, out)
		res, out = b.do(t, "POST", "/api/v1/customers/search", admin, `{"city":"x","size":10,"sort":"name","companyId":"C2"}`)
		require.Equal(t, 200, res.StatusCode, out)
		require.Len(t, out["customers"], 3)
	}
}
