package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/demo"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/workers"
)

// withDemoAndWorker seeds n demo customers into the test's source schema,
// runs a real worker in this process and indexes everything with a full
// sync through the API.
func (b *testBundle) withDemoAndWorker(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, source.CreateSchema(ctx, b.deps.Source))
	loc := b.deps.Config.Location
	y, m, d := time.Now().In(loc).Date()
	_, err := demo.Seed(ctx, b.deps.Source, demo.Options{Customers: n, Seed: 11, AsOf: time.Date(y, m, d, 0, 0, 0, 0, loc)})
	require.NoError(t, err)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = workers.New(b.deps.WorkerParams()).Run(wctx)
	}()
	t.Cleanup(func() { stop(); <-done })
	res, body := b.do(t, "POST", "/api/v1/syncs", b.key(t, ""), map[string]any{"mode": "full"})
	require.Equal(t, 202, res.StatusCode, body)
	b.waitJob(t, body["jobId"].(string))
}

// waitJob polls a job until it succeeds.
func (b *testBundle) waitJob(t *testing.T, id string) map[string]any {
	t.Helper()
	admin := b.key(t, "")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, body := b.do(t, "GET", "/api/v1/jobs/"+id, admin, nil)
		switch body["state"] {
		case "succeeded":
			return body
		case "failed", "canceled":
			t.Fatalf("job %s %s: %v", id, body["state"], body["error"])
		}
		require.True(t, time.Now().Before(deadline), "job %s still %v", id, body["state"])
		time.Sleep(100 * time.Millisecond)
	}
}

// exportIDs runs an export request to the end and returns the customer ids
// of its file.
func (b *testBundle) exportIDs(t *testing.T, key string, req map[string]any) map[string]bool {
	t.Helper()
	req["fields"] = []string{"customerId"}
	res, body := b.do(t, "POST", "/api/v1/exports", key, req)
	require.Equal(t, 202, res.StatusCode, body)
	id := body["jobId"].(string)
	b.waitJob(t, id)
	res, file := b.raw(t, "GET", "/api/v1/exports/"+id+"/download", key)
	require.Equal(t, 200, res.StatusCode, string(file))
	zr, err := gzip.NewReader(bytes.NewReader(file))
	require.NoError(t, err)
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	records, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	require.NoError(t, err)
	out := map[string]bool{}
	for _, r := range records[1:] {
		out[r[0]] = true
	}
	return out
}

// inHoldout is the documented rule, computed here apart from the service.
func inHoldout(campaignID, customerID string, percent float64) bool {
	sum := sha256.Sum256([]byte(campaignID + ":" + customerID))
	u := binary.BigEndian.Uint64(sum[:8])
	return float64(u)/math.Pow(2, 64) < percent/100
}

func TestCampaignEndToEnd(t *testing.T) {
	b := setup(t)
	b.withDemoAndWorker(t, 2500)
	ctx := context.Background()
	key := b.key(t, "COMP001")
	filter := map[string]any{"minDaysSinceLastPurchase": 90}
	// Sent ten days ago: the window of seven days has closed. The audience
	// bought nothing in the last 90 days, so only the invoices below fall
	// in it.
	sentAt := time.Now().UTC().Truncate(time.Second).Add(-10 * 24 * time.Hour)

	res, body := b.do(t, "POST", "/api/v1/campaigns", key, map[string]any{"name": "Vuelve", "filter": filter,
		"holdoutPercent": 30, "sentAt": sentAt.Format(time.RFC3339), "windowDays": 7, "cost": "1500.00", "currency": "CRC"})
	require.Equal(t, 202, res.StatusCode, body)
	id := body["campaignId"].(string)
	require.Equal(t, "/api/v1/campaigns/"+id, res.Header.Get("Location"))
	b.waitJob(t, body["jobId"].(string))
	res, body = b.do(t, "GET", "/api/v1/campaigns/"+id, key, nil)
	require.Equal(t, 200, res.StatusCode, body)
	require.Equal(t, "ready", body["state"])
	counts := body["counts"].(map[string]any)
	nt, nh := int64(counts["treatment"].(float64)), int64(counts["holdout"].(float64))

	// The audience is every inactive COMP001 customer, split by the rule.
	var want []string
	rows, err := b.deps.Source.Query(ctx, `SELECT c.customer_id FROM customers c JOIN invoices i USING (customer_id)
		WHERE c.company_id = 'COMP001' GROUP BY 1 HAVING max(i.invoice_date) < now() - interval '91 days'`)
	require.NoError(t, err)
	for rows.Next() {
		var c string
		require.NoError(t, rows.Scan(&c))
		want = append(want, c)
	}
	require.NoError(t, rows.Err())
	var treatment, holdout []string
	grp := map[string]string{}
	rows, err = b.deps.DB.Query(ctx, "SELECT customer_id, grp FROM campaign_members WHERE campaign_id = $1", id)
	require.NoError(t, err)
	for rows.Next() {
		var c, g string
		require.NoError(t, rows.Scan(&c, &g))
		grp[c] = g
	}
	require.NoError(t, rows.Err())
	require.Equal(t, nt+nh, int64(len(grp)))
	for _, c := range want {
		require.Contains(t, grp, c, "an inactive customer is missing from the audience")
	}
	for c, g := range grp {
		require.Equal(t, inHoldout(id, c, 30), g == "holdout", c)
		if g == "holdout" {
			holdout = append(holdout, c)
		} else {
			treatment = append(treatment, c)
		}
	}
	sort.Strings(treatment)
	sort.Strings(holdout)
	require.GreaterOrEqual(t, len(treatment), 6)
	require.GreaterOrEqual(t, len(holdout), 3)

	// Invoices after sentAt: T0 buys twice, T1 one second before the end,
	// T2 exactly at the end and one second after (neither counts), T3 one
	// second before sentAt (not counted), T4 and T5 once; three holdout
	// customers once each.
	end := sentAt.Add(7 * 24 * time.Hour)
	type inv struct {
		customer string
		at       time.Time
		cents    int64
	}
	T, H := treatment, holdout
	invoices := []inv{
		{T[0], sentAt, 1234_56}, {T[0], sentAt.Add(26 * time.Hour), 10_01},
		{T[1], end.Add(-time.Second), 500_00},
		{T[2], end, 999_99}, {T[2], end.Add(time.Second), 777_77},
		{T[3], sentAt.Add(-time.Second), 100_00},
		{T[4], sentAt.Add(2 * time.Hour), 250_50}, {T[5], sentAt.Add(3 * time.Hour), 49_95},
		{H[0], sentAt.Add(3 * 24 * time.Hour), 300_00}, {H[1], sentAt.Add(time.Hour), 20_00}, {H[2], sentAt.Add(6 * 24 * time.Hour), 1_01},
	}
	for i, v := range invoices {
		_, err := b.deps.Source.Exec(ctx, `INSERT INTO invoices (invoice_id, customer_id, invoice_date, total_amount)
			VALUES ($1, $2, $3, $4::numeric / 100)`, fmt.Sprintf("CAMP-%d", i), v.customer, v.at, v.cents)
		require.NoError(t, err)
	}

	// The test's own computation.
	rt, ordersT, revT := 4.0, 5.0, float64(1234_56+10_01+500_00+250_50+49_95)
	rh, ordersH, revH := 3.0, 3.0, float64(300_00+20_00+1_01)
	pt, ph := rt/float64(nt), rh/float64(nh)
	abs := pt - ph
	se := math.Sqrt(pt*(1-pt)/float64(nt) + ph*(1-ph)/float64(nh))
	pool := (rt + rh) / float64(nt+nh)
	z := abs / math.Sqrt(pool*(1-pool)*(1/float64(nt)+1/float64(nh)))
	pValue := 2 * (1 - 0.5*(1+math.Erf(math.Abs(z)/math.Sqrt2)))
	incRevenue := math.Round((revT/float64(nt) - revH/float64(nh)) * float64(nt))

	res, r := b.do(t, "GET", "/api/v1/campaigns/"+id+"/report", key, nil)
	require.Equal(t, 200, res.StatusCode, r)
	g := r["groups"].(map[string]any)
	gt, gh := g["treatment"].(map[string]any), g["holdout"].(map[string]any)
	require.Nil(t, g["globalControl"])
	require.Equal(t, float64(nt), gt["customers"])
	require.Equal(t, rt, gt["reactivated"])
	require.Equal(t, ordersT, gt["orders"])
	require.Equal(t, revT/100, gt["revenue"])
	require.InDelta(t, pt, gt["rate"], 1e-12)
	require.Equal(t, rh, gh["reactivated"])
	require.Equal(t, ordersH, gh["orders"])
	require.Equal(t, revH/100, gh["revenue"])
	require.Equal(t, math.Round(revH/float64(nh))/100, gh["revenuePerCustomer"])
	lift := r["lift"].(map[string]any)
	require.InDelta(t, abs, lift["absolute"], 1e-12)
	require.InDelta(t, abs/ph, lift["relative"], 1e-9)
	ci := lift["ci95"].([]any)
	require.InDelta(t, abs-1.96*se, ci[0], 1e-12)
	require.InDelta(t, abs+1.96*se, ci[1], 1e-12)
	require.InDelta(t, pValue, lift["pValue"], 1e-9)
	inc := r["incremental"].(map[string]any)
	require.InDelta(t, abs*float64(nt), inc["customers"], 1e-9)
	require.Equal(t, incRevenue/100, inc["revenue"])
	require.InDelta(t, (incRevenue-1500_00)/1500_00, r["roi"], 1e-12)
	window := r["window"].(map[string]any)
	require.Equal(t, true, window["complete"])
	require.Equal(t, end.Format(time.RFC3339), window["end"])
	daily := r["daily"].([]any)
	require.Len(t, daily, 7)
	last := daily[6].(map[string]any)
	require.InDelta(t, pt, last["treatment"], 1e-12)
	require.InDelta(t, ph, last["holdout"], 1e-12)
	day1 := daily[0].(map[string]any)
	require.InDelta(t, 3/float64(nt), day1["treatment"], 1e-12, "T0, T4 and T5 came back on day 1")
	require.InDelta(t, 1/float64(nh), day1["holdout"], 1e-12)
	require.NotEmpty(t, r["warnings"], "four reactivated customers are too few to conclude")

	// The same figures as CSV.
	res, csvBody := b.raw(t, "GET", "/api/v1/campaigns/"+id+"/report", key, "Accept", "text/csv")
	require.Equal(t, 200, res.StatusCode, string(csvBody))
	require.Contains(t, res.Header.Get("Content-Type"), "text/csv")
	require.Contains(t, string(csvBody), "reactivated,treatment,4\n")
	require.Contains(t, string(csvBody), "orders,treatment,5\n")

	// Events: idempotent, rejections by line, and an unsubscribe
	// suppresses the customer.
	lines := []string{
		fmt.Sprintf(`{"customerId":%q,"event":"delivered","at":%q}`, T[0], sentAt.Format(time.RFC3339)),
		fmt.Sprintf(`{"customerId":%q,"event":"opened","at":%q}`, T[0], sentAt.Add(time.Hour).Format(time.RFC3339)),
		fmt.Sprintf(`{"customerId":%q,"event":"delivered","at":%q}`, T[0], sentAt.Format(time.RFC3339)),
		fmt.Sprintf(`{"customerId":%q,"event":"unsubscribed","at":%q}`, T[4], sentAt.Format(time.RFC3339)),
		`{"customerId":"NOPE","event":"delivered","at":"2026-10-01T15:00:00Z"}`,
		fmt.Sprintf(`{"customerId":%q,"event":"teleported","at":"2026-10-01T15:00:00Z"}`, T[1]),
		`not json`,
	}
	post := func(ndjson string) map[string]any {
		req, err := http.NewRequest("POST", b.srv.URL+"/api/v1/campaigns/"+id+"/events", strings.NewReader(ndjson))
		require.NoError(t, err)
		req.Header.Set("X-API-Key", key)
		req.Header.Set("Content-Type", "application/x-ndjson")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]any
		require.NoError(t, decodeBody(res.Body, &out))
		require.Equal(t, 200, res.StatusCode, out)
		return out
	}
	out := post(strings.Join(lines, "\n"))
	require.Equal(t, 7.0, out["received"])
	require.Equal(t, 3.0, out["accepted"])
	require.Equal(t, 1.0, out["duplicates"])
	require.Equal(t, 1.0, out["suppressed"])
	require.Equal(t, 3.0, out["rejected"])
	var rejected []float64
	for _, x := range out["rejections"].([]any) {
		rejected = append(rejected, x.(map[string]any)["line"].(float64))
	}
	require.ElementsMatch(t, []float64{5, 6, 7}, rejected)
	out = post(strings.Join(lines[:4], "\n"))
	require.Equal(t, 0.0, out["accepted"], "the same rows twice count once")
	require.Equal(t, 4.0, out["duplicates"])

	res, r = b.do(t, "GET", "/api/v1/campaigns/"+id+"/report", key, nil)
	require.Equal(t, 200, res.StatusCode, r)
	require.Equal(t, 1.0, r["suppressed"])
	ev := r["events"].(map[string]any)
	require.Equal(t, 1.0, ev["delivered"])
	require.Equal(t, 1.0, ev["opened"])
	require.Equal(t, 1.0, ev["openRate"])
	require.Equal(t, 1.0, ev["unsubscribed"])

	// Suppression: gone from a new export of the same filter, unless asked.
	plain := b.exportIDs(t, key, map[string]any{"filter": filter})
	require.NotContains(t, plain, T[4])
	require.Contains(t, plain, T[5])
	with := b.exportIDs(t, key, map[string]any{"filter": filter, "includeSuppressed": true})
	require.Contains(t, with, T[4])
	// The treatment export: its members less the suppressed one.
	got := b.exportIDs(t, key, map[string]any{"campaignId": id})
	require.Len(t, got, len(treatment)-1)
	require.NotContains(t, got, T[4])
	require.NotContains(t, got, H[0])
	got = b.exportIDs(t, key, map[string]any{"campaignId": id, "group": "holdout"})
	require.Len(t, got, len(holdout))
	res, body = b.do(t, "GET", "/api/v1/exports/audit?limit=10", b.key(t, ""), nil)
	require.Equal(t, 200, res.StatusCode, body)
	audited := map[string]int{}
	for _, e := range body["entries"].([]any) {
		e := e.(map[string]any)
		audited[fmt.Sprint(e["campaignId"], "/", e["group"], "/", e["includeSuppressed"])]++
	}
	require.Equal(t, 1, audited["<nil>/<nil>/true"], "the override is audited: %v", audited)
	require.Equal(t, 1, audited[id+"/holdout/false"], audited)

	// The page is served with its assets.
	res, page := b.raw(t, "GET", "/campaigns/"+id, "")
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, string(page), "/docs/campaign.js")

	// Archived, not deleted, once sent.
	res, body = b.do(t, "DELETE", "/api/v1/campaigns/"+id, key, nil)
	require.Equal(t, 200, res.StatusCode, body)
	require.Equal(t, "archived", body["state"])
}

func TestCampaignBadInputAndDelete(t *testing.T) {
	b := setup(t)
	key := b.key(t, "COMP001")
	cases := []struct{ body, field string }{
		{`{"name":"x","holdoutPercent":60}`, "holdoutPercent"},
		{`{"name":"x","windowDays":0}`, "windowDays"},
		{`{"name":"x","cost":"12.345"}`, "cost"},
		{`{"name":"x","sentAt":"yesterday"}`, "sentAt"},
		{`{"name":"x","filter":{"colour":"red"}}`, "filter.colour"},
		{`{"holdoutPercent":5}`, "name"},
		{`{"name":"x","channel":"fax"}`, "channel"},
	}
	for _, c := range cases {
		res, body := b.do(t, "POST", "/api/v1/campaigns", key, c.body)
		require.Equal(t, 400, res.StatusCode, "%s: %v", c.body, body)
		require.Equal(t, c.field, body["errors"].([]any)[0].(map[string]any)["field"], c.body)
	}
	res, body := b.do(t, "POST", "/api/v1/exports", key, map[string]any{"campaignId": "x", "filter": map[string]any{}})
	require.Equal(t, 400, res.StatusCode, body)
	require.Equal(t, "filter", body["errors"].([]any)[0].(map[string]any)["field"])
	res, body = b.do(t, "PUT", "/api/v1/companies/COMP001/control-group", b.key(t, "COMP001", "search", "admin"), map[string]any{"percent": 80})
	require.Equal(t, 400, res.StatusCode, body)

	// Not sent yet (no worker: still freezing): deleted for good.
	res, body = b.do(t, "POST", "/api/v1/campaigns", key, map[string]any{"name": "later"})
	require.Equal(t, 202, res.StatusCode, body)
	id := body["campaignId"].(string)
	res, body = b.do(t, "POST", "/api/v1/exports", key, map[string]any{"campaignId": id})
	require.Equal(t, 409, res.StatusCode, "not frozen yet: %v", body)
	res, _ = b.do(t, "DELETE", "/api/v1/campaigns/"+id, key, nil)
	require.Equal(t, 204, res.StatusCode)
	res, _ = b.do(t, "GET", "/api/v1/campaigns/"+id, key, nil)
	require.Equal(t, 404, res.StatusCode)
}

func decodeBody(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
