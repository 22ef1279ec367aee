package api_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/tasks"
)

// TestSyncsOfTheWholeIndexAreForAdmins: a company key with every scope
// (the README's example key) cannot start a full, incremental or reconcile sync; an
// admin key can; without the sync scope nobody can.
func TestSyncsOfTheWholeIndexAreForAdmins(t *testing.T) {
	b := setup(t)
	company := b.key(t, "COMP001", auth.ScopeSearch, auth.ScopeExport, auth.ScopeSync)
	admin := b.key(t, "", auth.ScopeSync)
	searchOnly := b.key(t, "COMP001", auth.ScopeSearch)

	for _, mode := range []string{"full", "incremental", "reconcile"} {
		res, body := b.do(t, "POST", "/api/v1/syncs", company, map[string]any{"mode": mode})
		require.Equal(t, 403, res.StatusCode, "%s sync by a company key: %v", mode, body)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		require.Contains(t, body["detail"], "admin keys")

		res, body = b.do(t, "POST", "/api/v1/syncs", searchOnly, map[string]any{"mode": mode})
		require.Equal(t, 403, res.StatusCode, body)
		require.Contains(t, body["detail"], `"sync" scope`)
	}
	// A company key learns nothing by sending an invalid mode either.
	res, body := b.do(t, "POST", "/api/v1/syncs", company, map[string]any{"mode": "sometimes"})
	require.Equal(t, 403, res.StatusCode, body)

	id := startJob(t, b, admin)
	res, body = b.do(t, "GET", "/api/v1/syncs/"+id, admin, nil)
	require.Equal(t, 200, res.StatusCode, body)
	require.Equal(t, "full", body["mode"])
	// The admins' run spans every company: a company key does not see it.
	for _, path := range []string{"/api/v1/syncs/" + id, "/api/v1/jobs/" + id} {
		res, body = b.do(t, "GET", path, company, nil)
		require.Equal(t, 404, res.StatusCode, "%s: %v", path, body)
	}
	res, body = b.do(t, "DELETE", "/api/v1/jobs/"+id, company, nil)
	require.Equal(t, 404, res.StatusCode, body)
	res, body = b.do(t, "GET", "/api/v1/syncs/"+id, searchOnly, nil)
	require.Equal(t, 403, res.StatusCode, body)
}

// TestRefreshKeepsACompanyToItsCustomers: ids the source knows under
// another company are dropped before the task is queued and counted as
// ignored; unknown ids (possibly the company's deleted customers) are kept;
// an admin refreshes any id.
func TestRefreshKeepsACompanyToItsCustomers(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	_, err := b.deps.Source.Exec(ctx, `INSERT INTO customers (customer_id, company_id, name) VALUES
		('R1', 'COMP001', 'x'), ('R2', 'COMP002', 'x'), ('R3', 'COMP002', 'x'), ('R4', 'COMP001', 'x')`)
	require.NoError(t, err)
	company := b.key(t, "COMP001", auth.ScopeSync)
	other := b.key(t, "COMP002", auth.ScopeSync)
	admin := b.key(t, "", auth.ScopeSync)
	searchOnly := b.key(t, "COMP001", auth.ScopeSearch)

	queued := func(jobID string) []string {
		t.Helper()
		info, err := b.deps.Inspector.GetTaskInfo(tasks.QueueOf(tasks.TypeSyncRefresh), jobID+":refresh")
		require.NoError(t, err)
		var p tasks.SyncRefreshPayload
		require.NoError(t, json.Unmarshal(info.Payload, &p))
		return p.CustomerIDs
	}
	params := func(body map[string]any) map[string]any {
		return body["job"].(map[string]any)["params"].(map[string]any)
	}

	ids := []string{"R1", "R2", "R3", "R4", "GONE"}
	res, body := b.do(t, "POST", "/api/v1/customers/refresh", company, map[string]any{"customerIds": ids})
	require.Equal(t, 202, res.StatusCode, body)
	require.EqualValues(t, 2, params(body)["ignored"])
	require.EqualValues(t, 3, params(body)["customers"])
	require.Equal(t, []string{"R1", "R4", "GONE"}, queued(body["jobId"].(string)))
	companyJob := body["jobId"].(string)

	res, body = b.do(t, "POST", "/api/v1/customers/refresh", admin, map[string]any{"customerIds": ids})
	require.Equal(t, 202, res.StatusCode, body)
	require.EqualValues(t, 0, params(body)["ignored"])
	require.Equal(t, ids, queued(body["jobId"].(string)))

	// The refresh is the company's own job: another company gets 404.
	for _, path := range []string{"/api/v1/syncs/" + companyJob, "/api/v1/jobs/" + companyJob} {
		res, body = b.do(t, "GET", path, other, nil)
		require.Equal(t, 404, res.StatusCode, "%s: %v", path, body)
		res, body = b.do(t, "GET", path, company, nil)
		require.Equal(t, 200, res.StatusCode, "%s: %v", path, body)
	}
	res, body = b.do(t, "POST", "/api/v1/customers/refresh", searchOnly, map[string]any{"customerIds": ids})
	require.Equal(t, 403, res.StatusCode, body)
}
