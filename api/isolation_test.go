package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/auth"
)

// TestIsolationOnEveryRouteWithAnID: for every route that takes an id,
// another company's key gets 404 (never 403: it must not learn the id
// exists), a key without the route's scope gets 403, and a revoked key 401.
func TestIsolationOnEveryRouteWithAnID(t *testing.T) {
	b := setup(t)
	owner := b.key(t, "COMP001")

	// One job of each kind, queued (no worker runs here).
	_, sync := b.do(t, "POST", "/api/v1/customers/refresh", owner, map[string]any{"customerIds": []string{"C1"}})
	_, segment := b.do(t, "POST", "/api/v1/segments/searches", owner, map[string]any{"filter": map[string]any{"gender": "mujer"}})
	_, export := b.do(t, "POST", "/api/v1/exports", owner, map[string]any{"filter": map[string]any{}, "format": "csv"})
	_, camp := b.do(t, "POST", "/api/v1/campaigns", owner, map[string]any{"name": "mine", "filter": map[string]any{}})
	syncID, segmentID, exportID := sync["jobId"].(string), segment["jobId"].(string), export["jobId"].(string)
	campaignID := camp["campaignId"].(string)

	routes := []struct {
		method, path string
		scope        auth.Scope
	}{
		{"GET", "/api/v1/jobs/" + syncID, ""},
		{"GET", "/api/v1/syncs/" + syncID, auth.ScopeSync},
		{"DELETE", "/api/v1/jobs/" + syncID, auth.ScopeSync},
		{"GET", "/api/v1/segments/searches/" + segmentID, auth.ScopeSearch},
		{"GET", "/api/v1/segments/searches/" + segmentID + "/results", auth.ScopeSearch},
		{"GET", "/api/v1/exports/" + exportID, auth.ScopeExport},
		{"GET", "/api/v1/exports/" + exportID + "/download", auth.ScopeExport},
		{"DELETE", "/api/v1/exports/" + exportID, auth.ScopeExport},
		{"DELETE", "/api/v1/jobs/" + segmentID, auth.ScopeSearch},
		{"GET", "/api/v1/campaigns/" + campaignID, auth.ScopeSearch},
		{"GET", "/api/v1/campaigns/" + campaignID + "/report", auth.ScopeSearch},
		{"POST", "/api/v1/campaigns/" + campaignID + "/events", auth.ScopeExport},
		{"DELETE", "/api/v1/campaigns/" + campaignID, auth.ScopeExport},
	}
	other := b.key(t, "COMP002")
	for _, r := range routes {
		res, body := b.do(t, r.method, r.path, other, nil)
		require.Equal(t, 404, res.StatusCode, "%s %s by another company: %v", r.method, r.path, body)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))

		if r.scope != "" {
			var scopes []auth.Scope
			for _, s := range auth.AllScopes[:3] {
				if s != r.scope {
					scopes = append(scopes, s)
				}
			}
			res, body = b.do(t, r.method, r.path, b.key(t, "COMP001", scopes...), nil)
			require.Equal(t, 403, res.StatusCode, "%s %s without scope %s: %v", r.method, r.path, r.scope, body)
		}
	}

	// Exporting another company's campaign group, listing campaigns and
	// setting another company's control group.
	res, body := b.do(t, "POST", "/api/v1/exports", other, map[string]any{"campaignId": campaignID})
	require.Equal(t, 404, res.StatusCode, body)
	res, body = b.do(t, "GET", "/api/v1/campaigns", other, nil)
	require.Equal(t, 200, res.StatusCode, body)
	require.Empty(t, body["campaigns"])
	res, body = b.do(t, "PUT", "/api/v1/companies/COMP001/control-group", b.key(t, "COMP002", auth.AllScopes...),
		map[string]any{"percent": 5})
	require.Equal(t, 404, res.StatusCode, body)
	res, body = b.do(t, "PUT", "/api/v1/companies/COMP001/control-group", owner, map[string]any{"percent": 5})
	require.Equal(t, 403, res.StatusCode, "the admin scope is needed: %v", body)

	revoked := b.key(t, "COMP001")
	_, err := b.deps.Keys.Revoke(context.Background(), strings.Split(revoked, "_")[1])
	require.NoError(t, err)
	for _, r := range routes {
		res, _ := b.do(t, r.method, r.path, revoked, nil)
		require.Equal(t, 401, res.StatusCode, "%s %s with a revoked key", r.method, r.path)
	}

	// The owner still sees everything (the DELETEs above were refused).
	for _, id := range []string{syncID, segmentID, exportID} {
		res, body := b.do(t, "GET", "/api/v1/jobs/"+id, owner, nil)
		require.Equal(t, 200, res.StatusCode, body)
		require.Equal(t, "queued", body["state"])
	}
	res, body = b.do(t, "GET", "/api/v1/campaigns/"+campaignID, owner, nil)
	require.Equal(t, 200, res.StatusCode, body)
	require.Equal(t, "freezing", body["state"])
}
