package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/api"
	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/scores"
)

// checkScoresAPI reads GET /api/v1/scores through the real router and
// checks it against what checkScores verified from SQL: each company's
// group sizes are the documents counted by group, its thresholds and
// fitted parameters are the stored model's; a company key sees its own
// company only (another's is 404), an admin key must name the company, and
// a key without the search scope is refused.
func checkScoresAPI(t *testing.T, b *testBundle, gen string, set *scores.Set, groups map[string]map[string]int64) {
	ctx := context.Background()
	srv := httptest.NewServer(api.New(b.deps.APIParams()).Handler())
	t.Cleanup(srv.Close)
	key := func(company string, scopes ...auth.Scope) string {
		_, secret, err := b.deps.Keys.Create(ctx, auth.NewKey{Name: "scores", CompanyID: company, Admin: company == "", Scopes: scopes})
		require.NoError(t, err)
		return secret
	}
	get := func(path, key string) (int, []byte) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("X-API-Key", key)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, body
	}
	admin := key("", auth.ScopeSearch, auth.ScopeAdmin)
	checked := 0
	for company, m := range set.Models {
		status, body := get("/api/v1/scores?companyId="+company, admin)
		require.Equal(t, http.StatusOK, status, string(body))
		var got scores.Report
		require.NoError(t, json.Unmarshal(body, &got))
		require.Equal(t, company, got.CompanyID)
		require.Equal(t, gen, got.Generation)
		require.True(t, m.AsOf.Equal(got.AsOf), "asOf %s, stored %s", got.AsOf, m.AsOf)
		want := m.Report(gen)
		require.Equal(t, want.Thresholds, got.Thresholds, company)
		require.Equal(t, m.Params, got.Model, company)
		require.Equal(t, want.Customers, got.Customers, company)
		sizes := map[string]int64{}
		for _, g := range got.Groups {
			sizes[g.Group] = g.Customers
		}
		require.Len(t, got.Groups, len(scores.Groups), "every group is listed, empty ones too")
		for _, g := range scores.Groups {
			require.Equal(t, groups[company][g], sizes[g], "company %s group %s: the documents counted by group", company, g)
		}
		require.Equal(t, groupTotal(groups[company])-groups[company][scores.GroupProspects], got.Customers,
			"customers counts those with a purchase")
		checked++
	}
	require.Greater(t, checked, 1)

	// Tenancy and scopes.
	own := key("COMP001", auth.ScopeSearch)
	status, body := get("/api/v1/scores", own)
	require.Equal(t, http.StatusOK, status, string(body))
	var mine scores.Report
	require.NoError(t, json.Unmarshal(body, &mine))
	require.Equal(t, "COMP001", mine.CompanyID, "a company key reads its own company")
	status, body = get("/api/v1/scores?companyId=COMP002", own)
	require.Equal(t, http.StatusNotFound, status, "another company's scores do not exist for this key: %s", body)
	require.NotContains(t, string(body), `"thresholds"`)
	status, body = get("/api/v1/scores", admin)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, string(body), "companyId", "the problem names the field")
	status, _ = get("/api/v1/scores", key("COMP001", auth.ScopeExport))
	require.Equal(t, http.StatusForbidden, status, "the search scope is needed")
	status, _ = get("/api/v1/scores?companyId=NO-SUCH", admin)
	require.Equal(t, http.StatusNotFound, status, "a company with no scores")
}
