package export_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/campaign"
	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/testenv"
)

// hostileNames survive CSV and JSON only when both are written right.
var hostileNames = []string{
	"O'Brien, \"Toño\"\nJr.",
	"Ana, María",
	"\"quoted\"",
	"line\nbreak",
	"semi; colon",
	"  leading space",
	"Ñandú \u2028 separator",
	"=cmd|' /C calc'!A0",
}

type testBundle struct {
	deps     *app.App
	svc      *export.Service
	profiles map[string]profile.Profile // by customer id, as indexed
}

// setup indexes n profiles (COMP001 and every fifth COMP002) into a fresh
// generation and returns a service whose runs use engine (deps.Engine when
// nil), with small pages and chunks so files span many of both.
func setup(t *testing.T, n int, wrap func(search.Searcher) search.Searcher) *testBundle {
	t.Helper()
	ctx := context.Background()
	cfg := testenv.Config(t)
	deps := testenv.App(t, cfg)
	var err error

	b := &testBundle{deps: deps, profiles: map[string]profile.Profile{}}
	docs := make([]profile.Profile, n)
	base := time.Date(2025, 3, 4, 15, 4, 5, 0, time.UTC)
	for i := range docs {
		p := profile.Profile{
			CustomerID: fmt.Sprintf("C%06d", i), CompanyID: "COMP001",
			Name: fmt.Sprintf("Customer %d", i), Email: fmt.Sprintf("c%d@example.com", i), Phone: "8888-" + strconv.Itoa(1000+i%9000),
			Gender: "female", GenderRaw: "Mujer", City: "San José",
			TotalPurchases: int64(i % 7), TotalSpent: profile.Cents(i*1234 + 5), AverageTicket: profile.Cents(i*100 + 7),
			Products: []string{"Café", "Gallo pinto"}, FavoriteProducts: []string{"Café"},
			Ingredients: []string{"arroz", "frijoles"}, FavoriteIngredients: []string{"frijoles", "arroz"},
			HasEmail: true, HasPhone: true,
		}
		if i%5 == 0 {
			p.CompanyID = "COMP002"
		}
		if i%3 == 0 {
			p.Name = hostileNames[i%len(hostileNames)]
		}
		if p.TotalPurchases > 0 {
			first, last := base.Add(-time.Duration(i)*time.Hour), base.Add(time.Duration(i)*time.Minute)
			p.FirstPurchaseAt, p.LastPurchaseAt = &first, &last
		} else {
			p.Products, p.FavoriteProducts, p.Ingredients, p.FavoriteIngredients = nil, nil, nil, nil
		}
		docs[i] = p
		b.profiles[p.CustomerID] = p
	}
	const gen = "g1"
	require.NoError(t, deps.Engine.CreateGeneration(ctx, gen))
	for i := 0; i < n; i += 1000 {
		require.NoError(t, deps.Engine.Index(ctx, gen, docs[i:min(i+1000, n)]))
	}
	_, err = deps.Engine.Count(ctx, gen)
	require.NoError(t, err)
	require.NoError(t, deps.Engine.Promote(ctx, gen))

	var engine search.Searcher = deps.Engine
	if wrap != nil {
		engine = wrap(engine)
	}
	b.svc = export.New(export.Params{Jobs: deps.Jobs, Exports: postgres.NewExports(deps.DB), Dispatcher: deps.Dispatcher, Engine: engine, Log: deps.Log,
		Audiences: campaign.NewService(campaign.Params{Store: postgres.NewCampaigns(deps.DB)}),
		Config:    export.Config{Location: cfg.Location, PageSize: 300, ChunkSize: 4 << 10}})
	return b
}

func company(id string) segment.Filter {
	f, err := segment.Decode([]byte(`{"companyId":"` + id + `"}`))
	if err != nil {
		panic(err)
	}
	return f
}

// start creates an export and marks its job running, as the worker does.
func (b *testBundle) start(t *testing.T, f segment.Filter, o export.Options) string {
	t.Helper()
	job, err := b.svc.Start(context.Background(), f, o, "key-1")
	require.NoError(t, err)
	_, err = b.deps.Jobs.Start(context.Background(), job.ID)
	require.NoError(t, err)
	return job.ID
}

// file downloads a succeeded export, checks its size and checksum, and
// returns it gunzipped.
func (b *testBundle) file(t *testing.T, id string) (export.Export, []byte) {
	t.Helper()
	ctx := context.Background()
	f, err := b.svc.Open(ctx, jobs.Tenant{Admin: true}, id)
	require.NoError(t, err)
	var gz bytes.Buffer
	n, err := f.WriteTo(ctx, &gz)
	require.NoError(t, err)
	require.Equal(t, f.SizeBytes, n)
	sum := sha256.Sum256(gz.Bytes())
	require.Equal(t, f.SHA256, hex.EncodeToString(sum[:]))
	r, err := gzip.NewReader(&gz)
	require.NoError(t, err)
	raw, err := io.ReadAll(r)
	require.NoError(t, err)
	return f.Export, raw
}

func (b *testBundle) companyProfiles(companyID string) map[string]profile.Profile {
	out := map[string]profile.Profile{}
	for id, p := range b.profiles {
		if p.CompanyID == companyID {
			out[id] = p
		}
	}
	return out
}

// csvRecord is a profile's row of the default fields, from the spec:
// RFC 3339 UTC dates, '.' decimals, lists joined with "; ".
func csvRecord(p profile.Profile) []string {
	date := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	return []string{p.CustomerID, p.CompanyID, p.Name, p.Email, p.Phone, p.Gender, p.City, date(p.LastPurchaseAt),
		strconv.FormatInt(p.TotalPurchases, 10), p.TotalSpent.String(), p.AverageTicket.String(),
		strings.Join(p.FavoriteProducts, "; "), strings.Join(p.FavoriteIngredients, "; ")}
}

func TestCSVExportRoundTrip(t *testing.T) {
	b := setup(t, 2500, nil)
	ctx := context.Background()
	// Byte for byte: formula escaping off (TestCSVExportNeutralisesFormulas).
	off := false
	id := b.start(t, company("COMP001"), export.Options{ExcelBOM: true, CSVFormulaEscape: &off})
	require.NoError(t, b.svc.Run(ctx, id))

	e, raw := b.file(t, id)
	require.Equal(t, jobs.Succeeded, e.State)
	require.False(t, e.CSVFormulaEscape)
	require.True(t, bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}), "Excel BOM")
	require.Greater(t, e.SizeBytes, int64(3*4<<10), "the file spans several chunks")
	require.Regexp(t, `^customers-COMP001-\d{4}-\d{2}-\d{2}-[0-9a-f]{8}\.csv\.gz$`, e.FileName)

	records, err := csv.NewReader(bytes.NewReader(raw[3:])).ReadAll()
	require.NoError(t, err)
	require.Equal(t, export.DefaultFields, records[0])
	want := b.companyProfiles("COMP001")
	require.Len(t, records[1:], len(want))
	require.Equal(t, int64(len(want)), e.Progress.Rows)
	require.Equal(t, int64(len(want)), e.Progress.Total)
	seen := map[string]bool{}
	hostile := 0
	for _, rec := range records[1:] {
		p, ok := want[rec[0]]
		require.True(t, ok, "unexpected customer %s", rec[0])
		require.False(t, seen[rec[0]], "customer %s twice", rec[0])
		seen[rec[0]] = true
		require.Equal(t, csvRecord(p), rec)
		if strings.ContainsAny(p.Name, ",\"\n") {
			hostile++
		}
	}
	require.Greater(t, hostile, 100)
	require.Contains(t, string(raw), "\r\n", "RFC 4180 line ends")
	require.Len(t, seen, len(want), "every customer of the segment exactly once")

	audit, _, err := b.svc.Audit(ctx, 10, "")
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.Equal(t, id, audit[0].ExportID)
	require.Equal(t, "key-1", audit[0].KeyID)
	require.Equal(t, "COMP001", audit[0].CompanyID)
	require.Equal(t, jobs.Succeeded, audit[0].State)
	require.Equal(t, int64(len(want)), audit[0].Rows)
	require.Equal(t, e.SizeBytes, audit[0].Bytes)
	require.JSONEq(t, `{"companyId":"COMP001"}`, string(audit[0].Filter))
}

func TestNDJSONExportHasOnlyTheChosenFieldsInOrder(t *testing.T) {
	b := setup(t, 700, nil)
	fields := []string{"name", "customerId", "totalSpent", "lastPurchaseAt", "products", "hasEmail", "totalPurchases"}
	id := b.start(t, company("COMP002"), export.Options{Format: "ndjson", Fields: fields})
	require.NoError(t, b.svc.Run(context.Background(), id))
	e, raw := b.file(t, id)
	require.True(t, strings.HasSuffix(e.FileName, ".ndjson.gz"))

	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	want := b.companyProfiles("COMP002")
	require.Len(t, lines, len(want))
	for _, line := range lines {
		// Keys in the order asked for.
		dec := json.NewDecoder(strings.NewReader(line))
		_, _ = dec.Token()
		var keys []string
		for dec.More() {
			k, _ := dec.Token()
			keys = append(keys, k.(string))
			var skip json.RawMessage
			require.NoError(t, dec.Decode(&skip))
		}
		require.Equal(t, fields, keys)

		// Values equal to the profile's own JSON.
		var got map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(line), &got))
		var cid string
		require.NoError(t, json.Unmarshal(got["customerId"], &cid))
		p := want[cid]
		var name string
		require.NoError(t, json.Unmarshal(got["name"], &name))
		require.Equal(t, p.Name, name)
		require.Equal(t, p.TotalSpent.String(), string(got["totalSpent"]))
		require.Equal(t, strconv.FormatInt(p.TotalPurchases, 10), string(got["totalPurchases"]))
		require.Equal(t, "true", string(got["hasEmail"]))
		if p.LastPurchaseAt == nil {
			require.Equal(t, "null", string(got["lastPurchaseAt"]))
		} else {
			require.Equal(t, `"`+p.LastPurchaseAt.UTC().Format(time.RFC3339)+`"`, string(got["lastPurchaseAt"]))
		}
		var products []string
		require.NoError(t, json.Unmarshal(got["products"], &products))
		require.Equal(t, len(p.Products), len(products))
		require.NotEqual(t, "null", string(got["products"]), "an empty list is []")
	}
}

func TestOptionsAreValidated(t *testing.T) {
	cases := []struct {
		opts  export.Options
		field string
	}{
		{export.Options{Format: "xlsx"}, "format"},
		{export.Options{Fields: []string{}}, "fields"},
		{export.Options{Fields: []string{"name", "password"}}, "fields[1]"},
		{export.Options{Fields: []string{"name", "name"}}, "fields[1]"},
		{export.Options{Fields: []string{"searchTokens"}}, "fields[0]"},
		{export.Options{Format: "ndjson", ExcelBOM: true}, "excelBom"},
	}
	for _, c := range cases {
		_, err := c.opts.Normalize()
		var verr *segment.ValidationError
		require.True(t, errors.As(err, &verr), "%+v", c.opts)
		require.Equal(t, c.field, verr.Errors[0].Field, "%+v", c.opts)
	}
	o, err := export.Options{}.Normalize()
	require.NoError(t, err)
	on := true
	require.Equal(t, export.Options{Format: "csv", Fields: export.DefaultFields, CSVFormulaEscape: &on}, o)
	o, err = export.Options{Format: "ndjson"}.Normalize()
	require.NoError(t, err)
	require.False(t, *o.CSVFormulaEscape, "NDJSON is never escaped")
	_, err = export.Options{Format: "ndjson", CSVFormulaEscape: &on}.Normalize()
	require.ErrorContains(t, err, "csv only")
}

// TestCSVExportNeutralisesFormulas: by default a CSV export prefixes a
// name a spreadsheet would run with a single quote, and keeps phones.
func TestCSVExportNeutralisesFormulas(t *testing.T) {
	b := setup(t, 300, nil)
	ctx := context.Background()
	id := b.start(t, company("COMP001"), export.Options{Fields: []string{"customerId", "name", "phone"}})
	require.NoError(t, b.svc.Run(ctx, id))
	e, raw := b.file(t, id)
	require.True(t, e.CSVFormulaEscape)
	records, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	require.NoError(t, err)
	want := b.companyProfiles("COMP001")
	formulas := 0
	for _, rec := range records[1:] {
		p := want[rec[0]]
		if strings.HasPrefix(p.Name, "=") {
			formulas++
			require.Equal(t, "'"+p.Name, rec[1])
		} else {
			require.Equal(t, p.Name, rec[1])
		}
		require.Equal(t, p.Phone, rec[2], "phones are left as they are")
	}
	require.Positive(t, formulas)
}

// faultySearcher wraps the real engine: after pages pages of a scan it
// calls hook, and fails the scan when hook returns an error.
type faultySearcher struct {
	search.Searcher
	pages int
	hook  func() error
}

func (f *faultySearcher) Scan(ctx context.Context, q search.Query, fn func([]profile.Profile) error) error {
	n := 0
	return f.Searcher.Scan(ctx, q, func(ps []profile.Profile) error {
		if err := fn(ps); err != nil {
			return err
		}
		if n++; n == f.pages && f.hook != nil {
			return f.hook()
		}
		return nil
	})
}

func chunkCount(t *testing.T, b *testBundle, id string) int {
	t.Helper()
	var n int
	require.NoError(t, b.deps.DB.QueryRow(context.Background(), "SELECT count(*) FROM export_chunks WHERE export_id = $1", id).Scan(&n))
	return n
}

func TestARetryStartsTheFileOver(t *testing.T) {
	faulty := &faultySearcher{pages: 4}
	b := setup(t, 2500, func(s search.Searcher) search.Searcher { faulty.Searcher = s; return faulty })
	ctx := context.Background()
	id := b.start(t, company("COMP001"), export.Options{})
	faulty.hook = func() error { return errors.New("engine went away") }
	require.ErrorContains(t, b.svc.Run(ctx, id), "engine went away")
	require.Positive(t, chunkCount(t, b, id), "the failed attempt wrote chunks")
	_, err := b.svc.Open(ctx, jobs.Tenant{Admin: true}, id)
	require.True(t, errs409(err), "a half-written export is not served: %v", err)

	faulty.hook = nil
	require.NoError(t, b.svc.Run(ctx, id))
	_, raw := b.file(t, id)
	records, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 1+len(b.companyProfiles("COMP001")))
}

func errs409(err error) bool {
	return err != nil && strings.Contains(err.Error(), "only a succeeded export can be downloaded")
}

func TestCancelStopsTheRunAndRemovesTheChunks(t *testing.T) {
	faulty := &faultySearcher{pages: 3}
	b := setup(t, 2500, func(s search.Searcher) search.Searcher { faulty.Searcher = s; return faulty })
	ctx := context.Background()
	id := b.start(t, company("COMP001"), export.Options{})
	var pagesAfterCancel int
	faulty.hook = func() error {
		// The API deletes the export while the run is going.
		return b.svc.Delete(ctx, jobs.Tenant{CompanyID: "COMP001"}, id)
	}
	wrapped := faulty.Searcher
	faulty.Searcher = countingSearcher{Searcher: wrapped, after: &pagesAfterCancel, job: id, store: b.deps.Jobs}
	require.NoError(t, b.svc.Run(ctx, id))
	require.LessOrEqual(t, pagesAfterCancel, 3, "the run stops within a page or two of the cancel")

	e, err := b.svc.Get(ctx, jobs.Tenant{CompanyID: "COMP001"}, id)
	require.NoError(t, err)
	require.Equal(t, jobs.Canceled, e.State)
	require.Zero(t, chunkCount(t, b, id))
	_, err = b.svc.Open(ctx, jobs.Tenant{Admin: true}, id)
	require.True(t, errs409(err), "%v", err)

	audit, _, err := b.svc.Audit(ctx, 10, "")
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.Equal(t, jobs.Canceled, audit[0].State)
	require.Positive(t, audit[0].Rows)
}

// countingSearcher counts the pages it hands out while job is canceled.
type countingSearcher struct {
	search.Searcher
	after *int
	job   string
	store *jobs.Store
}

func (c countingSearcher) Scan(ctx context.Context, q search.Query, fn func([]profile.Profile) error) error {
	return c.Searcher.Scan(ctx, q, func(ps []profile.Profile) error {
		if st, _ := c.store.State(ctx, c.job); st == jobs.Canceled {
			*c.after++
		}
		return fn(ps)
	})
}

func TestDeleteAndExpiry(t *testing.T) {
	b := setup(t, 500, nil)
	ctx := context.Background()
	admin := jobs.Tenant{Admin: true}
	deleted := b.start(t, company("COMP001"), export.Options{})
	expiring := b.start(t, company("COMP001"), export.Options{Format: "ndjson"})
	for _, id := range []string{deleted, expiring} {
		require.NoError(t, b.svc.Run(ctx, id))
	}

	// Another company sees neither.
	for _, id := range []string{deleted, expiring} {
		_, err := b.svc.Get(ctx, jobs.Tenant{CompanyID: "COMP002"}, id)
		require.True(t, jobs.IsNotFound(err))
		require.True(t, jobs.IsNotFound(b.svc.Delete(ctx, jobs.Tenant{CompanyID: "COMP002"}, id)))
	}

	require.NoError(t, b.svc.Delete(ctx, jobs.Tenant{CompanyID: "COMP001"}, deleted))
	require.NoError(t, b.svc.Delete(ctx, jobs.Tenant{CompanyID: "COMP001"}, deleted), "deleting twice is fine")
	e, err := b.svc.Get(ctx, admin, deleted)
	require.NoError(t, err)
	require.Equal(t, jobs.Succeeded, e.State)
	require.True(t, e.Deleted)
	require.Zero(t, chunkCount(t, b, deleted))
	_, err = b.svc.Open(ctx, admin, deleted)
	require.ErrorIs(t, err, export.ErrDeleted)

	// Past its expiry the file is gone even before the cleanup runs.
	_, err = b.deps.DB.Exec(ctx, "UPDATE exports SET expires_at = now() - interval '1 second' WHERE job_id = $1", expiring)
	require.NoError(t, err)
	_, err = b.svc.Open(ctx, admin, expiring)
	require.ErrorIs(t, err, export.ErrExpired)
	st, err := b.svc.Cleanup(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Expired)
	require.Zero(t, chunkCount(t, b, expiring))
	e, err = b.svc.Get(ctx, admin, expiring)
	require.NoError(t, err)
	require.True(t, e.Expired)
	require.NotNil(t, e.ExpiredAt)
	st, err = b.svc.Cleanup(ctx)
	require.NoError(t, err)
	require.Equal(t, export.CleanupStats{}, st, "cleanup is idempotent")

	// A job the reaper failed gets its audit row from the cleanup.
	reaped := b.start(t, company("COMP002"), export.Options{})
	_, err = b.deps.Jobs.Fail(ctx, reaped, jobs.VanishedReason)
	require.NoError(t, err)
	st, err = b.svc.Cleanup(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Audited)

	// The audit pages newest first.
	page1, next, err := b.svc.Audit(ctx, 2, "")
	require.NoError(t, err)
	require.Len(t, page1, 2)
	require.NotEmpty(t, next)
	require.Equal(t, reaped, page1[0].ExportID)
	require.Equal(t, jobs.Failed, page1[0].State)
	require.Equal(t, jobs.VanishedReason, page1[0].Error)
	page2, next, err := b.svc.Audit(ctx, 2, next)
	require.NoError(t, err)
	require.Len(t, page2, 1)
	require.Empty(t, next)
	_, _, err = b.svc.Audit(ctx, 2, "garbage!")
	var verr *segment.ValidationError
	require.ErrorAs(t, err, &verr)
}

func TestAStaleRunCannotWrite(t *testing.T) {
	var second func()
	faulty := &faultySearcher{pages: 2}
	b := setup(t, 1500, func(s search.Searcher) search.Searcher { faulty.Searcher = s; return faulty })
	ctx := context.Background()
	id := b.start(t, company("COMP001"), export.Options{})
	// While the first run is midway, a second run (asynq handing the task
	// to another worker) starts over and completes.
	faulty.hook = func() error {
		faulty.hook = nil
		second()
		return nil
	}
	var secondErr error
	second = func() { secondErr = b.svc.Run(ctx, id) }
	require.NoError(t, b.svc.Run(ctx, id), "the superseded run gives up quietly")
	require.NoError(t, secondErr)
	_, raw := b.file(t, id)
	records, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 1+len(b.companyProfiles("COMP001")))
}
