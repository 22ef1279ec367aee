package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// syncWithWorker starts a worker process and runs a full sync with it; the
// worker keeps running.
func (b *testBundle) syncWithWorker(t *testing.T) *process {
	t.Helper()
	w := start(t, b.cfg, "worker")
	j := waitJob(t, b.deps.Jobs, b.startSync(t, "full"), 5*time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)
	return w
}

func (b *testBundle) exports() *export.Service { return b.deps.Exports }

// startExport starts an export as the API does for a key of the filter's
// company.
func (b *testBundle) startExport(t *testing.T, filter string, o export.Options) string {
	t.Helper()
	f, err := segment.Decode([]byte(filter))
	require.NoError(t, err)
	job, err := b.exports().Start(context.Background(), f, o, "e2e-key")
	require.NoError(t, err)
	return job.ID
}

// download reads a succeeded export's file, checks its size and checksum
// against the stored ones, and returns it gunzipped.
func (b *testBundle) download(t *testing.T, id string) (export.Export, []byte) {
	t.Helper()
	ctx := context.Background()
	f, err := b.exports().Open(ctx, jobs.Tenant{Admin: true}, id)
	require.NoError(t, err)
	var gz bytes.Buffer
	_, err = f.WriteTo(ctx, &gz)
	require.NoError(t, err)
	require.Equal(t, f.SizeBytes, int64(gz.Len()))
	sum := sha256.Sum256(gz.Bytes())
	require.Equal(t, f.SHA256, hex.EncodeToString(sum[:]), "checksum")
	zr, err := gzip.NewReader(&gz)
	require.NoError(t, err)
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	return f.Export, raw
}

// engineProfiles is every match of filter as the engine answers it, at the
// export's "today", by customer id, with the engine's exact total.
func (b *testBundle) engineProfiles(t *testing.T, filter string, now time.Time) (map[string]profile.Profile, int64) {
	t.Helper()
	ctx := context.Background()
	f, err := segment.Decode([]byte(filter))
	require.NoError(t, err)
	q := search.Query{Filter: f, Size: 1, Now: now, Location: b.cfg.Location}
	page, err := b.deps.Engine.Search(ctx, q)
	require.NoError(t, err)
	out := map[string]profile.Profile{}
	q.Size = 1000
	require.NoError(t, b.deps.Engine.Scan(ctx, q, func(ps []profile.Profile) error {
		for _, p := range ps {
			out[p.CustomerID] = p
		}
		return nil
	}))
	require.Len(t, out, int(page.Total))
	return out, page.Total
}

// csvRow is a profile's row of the default fields, from the spec: RFC 3339
// UTC dates, '.' decimals, lists joined with "; ".
func csvRow(p profile.Profile) []string {
	date := ""
	if p.LastPurchaseAt != nil {
		date = p.LastPurchaseAt.UTC().Format(time.RFC3339Nano)
	}
	return []string{p.CustomerID, p.CompanyID, p.Name, p.Email, p.Phone, p.Gender, p.City, date,
		strconv.FormatInt(p.TotalPurchases, 10), p.TotalSpent.String(), p.AverageTicket.String(),
		strings.Join(p.FavoriteProducts, "; "), strings.Join(p.FavoriteIngredients, "; ")}
}

// comparable normalises what JSON may write two ways: instants to UTC,
// empty lists to nil.
func comparable(p profile.Profile) profile.Profile {
	for _, t := range []**time.Time{&p.CreatedAt, &p.UpdatedAt, &p.FirstPurchaseAt, &p.LastPurchaseAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	for _, l := range []*[]string{&p.Products, &p.FavoriteProducts, &p.Ingredients, &p.FavoriteIngredients} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	return p
}

// allFields are every exportable field, in the profile's order.
var allFields = []string{"customerId", "companyId", "name", "email", "phone", "gender", "genderRaw", "city",
	"createdAt", "updatedAt", "firstPurchaseAt", "lastPurchaseAt", "totalPurchases", "totalSpent", "averageTicket",
	"products", "favoriteProducts", "ingredients", "favoriteIngredients", "hasEmail", "hasPhone",
	"recencyScore", "frequencyScore", "monetaryScore", "rfmGroup", "pAlive", "expectedPurchases90d"}

// TestExportsMatchTheEngine: on 20k demo customers synced by a worker
// process, a CSV export of a segment of a few thousand and an NDJSON export
// of a whole company hold exactly the engine's matches, each row equal to
// the engine's profile, names with commas, quotes and line breaks included.
func TestExportsMatchTheEngine(t *testing.T) {
	b := setup(t, demoCustomers, nil)
	b.syncWithWorker(t)

	const segmentFilter = `{"companyId":"COMP001","minDaysSinceLastPurchase":60,"maxDaysSinceLastPurchase":400}`
	const companyFilter = `{"companyId":"COMP001"}`

	// Hostile names for some of the segment's customers, synced through.
	ctx := context.Background()
	before, _ := b.engineProfiles(t, segmentFilter, time.Now())
	hostile := map[string]string{}
	for id := range before {
		if len(hostile) == 25 {
			break
		}
		hostile[id] = fmt.Sprintf("O'Brien, \"Toño\"\nJr. %d", len(hostile))
	}
	for id, name := range hostile {
		_, err := b.deps.Source.Exec(ctx, "UPDATE customers SET name = $2, updated_at = now() WHERE customer_id = $1", id, name)
		require.NoError(t, err)
	}
	j := waitJob(t, b.deps.Jobs, b.startSync(t, "incremental"), time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)
	refresh(t, b)

	csvID := b.startExport(t, segmentFilter, export.Options{ExcelBOM: true})
	ndjsonID := b.startExport(t, companyFilter, export.Options{Format: export.FormatNDJSON, Fields: allFields})

	// The segment, as CSV.
	j = waitJob(t, b.deps.Jobs, csvID, 2*time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)
	want, total := b.engineProfiles(t, segmentFilter, j.CreatedAt)
	require.Greater(t, total, int64(1000), "a segment of a few thousand")
	require.Less(t, total, int64(8000))
	e, raw := b.download(t, csvID)
	require.Equal(t, export.Progress{Rows: total, Total: total}, e.Progress)
	require.True(t, bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}))
	records, err := csv.NewReader(bytes.NewReader(raw[3:])).ReadAll()
	require.NoError(t, err)
	require.Equal(t, export.DefaultFields, records[0])
	require.Len(t, records[1:], int(total), "exactly the engine's total")
	seen := map[string]bool{}
	for _, rec := range records[1:] {
		p, ok := want[rec[0]]
		require.True(t, ok, "customer %s is not in the segment", rec[0])
		require.False(t, seen[rec[0]], "customer %s twice", rec[0])
		seen[rec[0]] = true
		require.Equal(t, csvRow(p), rec)
		if name, ok := hostile[rec[0]]; ok {
			require.Equal(t, name, rec[2], "a hostile name survives the round trip")
		}
	}
	for id := range hostile {
		require.True(t, seen[id], "hostile customer %s exported", id)
	}

	// The whole company, as NDJSON with every field.
	j = waitJob(t, b.deps.Jobs, ndjsonID, 2*time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)
	want, total = b.engineProfiles(t, companyFilter, j.CreatedAt)
	e, raw = b.download(t, ndjsonID)
	require.Equal(t, total, e.Progress.Rows)
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		var p profile.Profile
		require.NoError(t, json.Unmarshal(sc.Bytes(), &p))
		require.Equal(t, comparable(want[p.CustomerID]), comparable(p))
		n++
	}
	require.NoError(t, sc.Err())
	require.Equal(t, int(total), n, "exactly the engine's total")

	// The audit log has both.
	audit, _, err := b.exports().Audit(ctx, 10, "")
	require.NoError(t, err)
	require.Len(t, audit, 2)
	for _, a := range audit {
		require.Equal(t, jobs.Succeeded, a.State)
		require.Equal(t, "e2e-key", a.KeyID)
	}
}

// slowEngine is an HTTP proxy to the search engine that delays every
// request, so an export lasts long enough to be killed midway.
func slowEngine(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	u, _ := slowEngineSearches(t, target, delay)
	return u
}

// slowEngineSearches is slowEngine that also counts the search requests
// (an export's or a scan's pages) in flight through it.
func slowEngineSearches(t *testing.T, target string, delay time.Duration) (string, *atomic.Int64) {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	searching := &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "_search") {
			searching.Add(1)
			defer searching.Add(-1)
		}
		time.Sleep(delay)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, searching
}

// slowWorkerAfterSync runs a full sync with a worker that then stops, and
// starts a worker whose every engine request takes 300 ms more, so a test
// can kill it in the middle of a task.
func (b *testBundle) slowWorkerAfterSync(t *testing.T) *process {
	t.Helper()
	syncer := b.syncWithWorker(t)
	require.NoError(t, syncer.Signal(syscall.SIGTERM))
	<-syncer.Done()
	slow := b.cfg
	slow.ElasticsearchURL = slowEngine(t, b.cfg.ElasticsearchURL, 300*time.Millisecond)
	victim := start(t, slow, "worker")
	return victim
}

// TestExportSurvivesAWorkerKilledMidRun: the worker writing an export is
// SIGKILLed with the file half written. asynq hands the task to another
// worker once its lease expires; the export ends either succeeded with a
// complete file (the retry started over) or failed with its reason, never
// a truncated file served as complete.
func TestExportSurvivesAWorkerKilledMidRun(t *testing.T) {
	b := setup(t, demoCustomers, nil)
	victim := b.slowWorkerAfterSync(t)

	id := b.startExport(t, `{"companyId":"COMP001"}`, export.Options{Format: export.FormatNDJSON, Fields: allFields})
	waitProgress(t, b.deps.Jobs, id, 1, time.Minute)
	require.NoError(t, victim.Kill())
	<-victim.Done()
	j, err := b.deps.Jobs.GetAny(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, jobs.Running, j.State)
	require.Greater(t, j.Progress.Done, int64(0))
	require.Less(t, j.Progress.Done, j.Progress.Total, "killed midway")
	_, err = b.exports().Open(context.Background(), jobs.Tenant{Admin: true}, id)
	require.Error(t, err, "a half-written export is not downloadable")

	start(t, b.cfg, "worker")
	killedAt := j.Progress
	j = waitJob(t, b.deps.Jobs, id, 4*time.Minute)
	t.Logf("killed at %d/%d rows; the export ended %s %s", killedAt.Done, killedAt.Total, j.State, j.Error)
	switch j.State {
	case jobs.Succeeded:
		_, total := b.engineProfiles(t, `{"companyId":"COMP001"}`, j.CreatedAt)
		e, raw := b.download(t, id)
		require.Equal(t, total, e.Progress.Rows)
		require.Equal(t, total, e.Progress.Total)
		require.Equal(t, int(total), bytes.Count(raw, []byte("\n")), "a complete file")
		var chunks int
		require.NoError(t, b.deps.DB.QueryRow(context.Background(),
			"SELECT count(*) FROM export_chunks WHERE export_id = $1", id).Scan(&chunks))
		require.Equal(t, int((e.SizeBytes+export.DefaultChunkSize-1)/export.DefaultChunkSize), chunks,
			"no chunk of the killed attempt is left")
	case jobs.Failed:
		require.NotEmpty(t, j.Error, "a failed export says why")
	default:
		t.Fatalf("export ended %s", j.State)
	}
}
