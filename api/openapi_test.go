package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/api"
	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/demo"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/workers"
)

func init() {
	// The docs page and its assets are text; kin-openapi only decodes the
	// media types it knows.
	for _, mt := range []string{"text/html", "text/css", "text/javascript"} {
		openapi3filter.RegisterBodyDecoder(mt, openapi3filter.PlainBodyDecoder)
	}
}

// specBundle is a server whose every response can be checked against the
// OpenAPI document it serves.
type specBundle struct {
	*testBundle
	doc    *openapi3.T
	router routers.Router
}

// specSetup starts the API (api_test.go's setup) with the demo source
// schema, and loads the document from its /openapi.json.
func specSetup(t *testing.T) *specBundle {
	t.Helper()
	ctx := context.Background()
	tb := setup(t)
	require.NoError(t, source.CreateSchema(ctx, tb.deps.Source))

	res, err := http.Get(tb.srv.URL + "/openapi.json")
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, string(data))
	doc, err := openapi3.NewLoader().LoadFromData(data)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(ctx), "the served document is not valid OpenAPI 3")
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &specBundle{testBundle: tb, doc: doc, router: router}
}

// documented lists the spec's operations as "METHOD /path/{param}".
func (b *specBundle) documented() []string {
	var out []string
	for path, item := range b.doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

var ginParam = regexp.MustCompile(`:(\w+)`)

// TestSpecDocumentsEveryRoute fails when a route is missing from the
// spec or the spec names a route the server does not have. Asynqmon's
// own pages under /monitoring/ and the methods other than GET that
// /monitoring forwards to it are Asynqmon's, not ours.
func TestSpecDocumentsEveryRoute(t *testing.T) {
	b := specSetup(t)
	engine, ok := api.New(b.deps.APIParams()).Handler().(*gin.Engine)
	require.True(t, ok, "the handler is a gin engine")
	var served []string
	for _, r := range engine.Routes() {
		if strings.Contains(r.Path, "*") || (r.Path == "/monitoring" && r.Method != http.MethodGet) {
			continue
		}
		served = append(served, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	slices.Sort(served)
	documented := b.documented()
	var missing, extra []string
	for _, r := range served {
		if !slices.Contains(documented, r) {
			missing = append(missing, r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			extra = append(extra, r)
		}
	}
	require.Empty(t, missing, "routes the spec does not document")
	require.Empty(t, extra, "documented routes the server does not have")
}

// TestSpecDescribesEveryOperation checks what the spec promises beyond
// validity: ids and summaries, strict request bodies, and problem answers
// for the errors every authenticated route can give.
func TestSpecDescribesEveryOperation(t *testing.T) {
	b := specSetup(t)
	for path, item := range b.doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			require.NotEmpty(t, op.OperationID, name)
			require.NotEmpty(t, op.Summary, name)
			if op.RequestBody != nil && op.RequestBody.Value.Content.Get("application/json") != nil {
				schema := op.RequestBody.Value.Content.Get("application/json").Schema.Value
				require.NotNil(t, schema.AdditionalProperties.Has, name)
				require.False(t, *schema.AdditionalProperties.Has, "%s: the server rejects unknown fields", name)
				for _, status := range []string{"400", "413", "415"} {
					require.NotNil(t, op.Responses.Value(status), "%s answers %s", name, status)
				}
			}
			if strings.HasPrefix(path, "/api/") {
				for _, status := range []string{"401", "429", "500"} {
					require.NotNil(t, op.Responses.Value(status), "%s answers %s", name, status)
				}
			}
		}
	}
	// The YAML in the repository and the JSON served are one document.
	raw, err := os.ReadFile("openapi.yaml")
	require.NoError(t, err)
	fromYAML, err := openapi3.NewLoader().LoadFromData(raw)
	require.NoError(t, err)
	want, err := json.Marshal(fromYAML)
	require.NoError(t, err)
	got, err := json.Marshal(b.doc)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got))
}

// specCase is one request whose response must match the spec. Paths and
// bodies may name ids made during setup as {name}.
type specCase struct {
	name   string
	method string
	path   string
	key    string // a name in keys; "" sends none
	auth   string // "" sends X-API-Key, "bearer" or "basic" the other ways
	body   string
	header []string // name, value pairs
	status int
	field  string // for a 400: a field the problem must name
}

// call sends c and validates the response against the spec; it returns
// the status and body.
func (b *specBundle) call(t *testing.T, c specCase, keys map[string]string, ids *strings.Replacer) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(ids.Replace(c.body))
	}
	req, err := http.NewRequest(c.method, b.srv.URL+ids.Replace(c.path), body)
	require.NoError(t, err)
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key := keys[c.key]; c.key != "" {
		require.NotEmpty(t, key, "no key named %q", c.key)
		switch c.auth {
		case "bearer":
			req.Header.Set("Authorization", "Bearer "+key)
		case "basic":
			req.SetBasicAuth("ops", key)
		default:
			req.Header.Set("X-API-Key", key)
		}
	}
	for i := 0; i+1 < len(c.header); i += 2 {
		req.Header.Set(c.header[i], ids.Replace(c.header[i+1]))
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	b.validate(t, req, res, data)
	return res, data
}

// validate checks a response against the operation the request matches:
// a documented status, its headers, its content type and its body schema.
func (b *specBundle) validate(t *testing.T, req *http.Request, res *http.Response, data []byte) {
	t.Helper()
	route, params, err := b.router.FindRoute(req)
	require.NoError(t, err, "%s %s is not in the spec", req.Method, req.URL.Path)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(data)
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), in),
		"%s %s answered %d %s", req.Method, req.URL.Path, res.StatusCode, truncate(data))
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// demoFixture is a synced demo index and the jobs the cases refer to.
type demoFixture struct {
	keys map[string]string
	ids  map[string]string
}

// seedDemo loads 2000 demo customers, runs a full sync, a segment search
// (and one that matches nothing) and two exports with an in-process
// worker, then stops the worker so that the jobs started afterwards stay
// queued.
func (b *specBundle) seedDemo(t *testing.T) demoFixture {
	t.Helper()
	ctx := context.Background()
	loc := b.deps.Config.Location
	y, m, d := time.Now().In(loc).Date()
	_, err := demo.Seed(ctx, b.deps.Source, demo.Options{Customers: 2000, Seed: 1, AsOf: time.Date(y, m, d, 0, 0, 0, 0, loc)})
	require.NoError(t, err)

	workerCtx, cancelWorker := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- workers.New(b.deps.WorkerParams()).Run(workerCtx) }()
	stopWorker := sync.OnceValue(func() error {
		cancelWorker()
		return <-stopped
	})
	defer stopWorker() //nolint:errcheck // checked below on the happy path

	f := demoFixture{
		keys: map[string]string{
			"comp1":  b.key(t, "COMP001", auth.ScopeSearch, auth.ScopeExport, auth.ScopeSync),
			"comp2":  b.key(t, "COMP002", auth.ScopeSearch, auth.ScopeExport, auth.ScopeSync),
			"admin":  b.key(t, "", auth.AllScopes...),
			"search": b.key(t, "COMP001", auth.ScopeSearch),
			"export": b.key(t, "COMP001", auth.ScopeExport),
			"bogus":  "rk_nope_0123456789abcdefghijklmn",
		},
		ids: map[string]string{"missing": uuid.NewString()},
	}
	full, err := b.deps.Sync.Start(ctx, "full", jobs.Tenant{Admin: true}, "test")
	require.NoError(t, err)
	b.waitSucceeded(t, full.ID)
	f.ids["sync"] = full.ID

	start := func(path, body string) string {
		t.Helper()
		res, data := b.call(t, specCase{method: "POST", path: path, key: "comp1", body: body}, f.keys, strings.NewReplacer())
		require.Equal(t, http.StatusAccepted, res.StatusCode, string(data))
		var out struct{ JobID string }
		require.NoError(t, json.Unmarshal(data, &out))
		return out.JobID
	}
	f.ids["segment"] = start("/api/v1/segments/searches", `{"filter":{"minDaysSinceLastPurchase":30},"sort":"totalSpent:desc"}`)
	f.ids["emptySegment"] = start("/api/v1/segments/searches", `{"filter":{"q":"zzzqqqxxx"}}`)
	f.ids["export"] = start("/api/v1/exports", `{"filter":{"hasEmail":true},"format":"csv","excelBom":true}`)
	f.ids["deletable"] = start("/api/v1/exports", `{"format":"ndjson","fields":["customerId","totalSpent"]}`)
	for _, name := range []string{"segment", "emptySegment", "export", "deletable"} {
		b.waitSucceeded(t, f.ids[name])
	}
	var sum struct{ SHA256 string }
	res, data := b.call(t, specCase{method: "GET", path: "/api/v1/exports/" + f.ids["export"], key: "comp1"}, f.keys, strings.NewReplacer())
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, json.Unmarshal(data, &sum))
	f.ids["etag"] = `"` + sum.SHA256 + `"`

	// Without a worker these stay queued.
	require.NoError(t, stopWorker())
	f.ids["queuedSegment"] = start("/api/v1/segments/searches", `{}`)
	f.ids["queuedExport"] = start("/api/v1/exports", `{}`)
	queued, err := b.deps.Sync.Start(ctx, "full", jobs.Tenant{Admin: true}, "test")
	require.NoError(t, err)
	f.ids["queuedSync"] = queued.ID
	return f
}

func (b *specBundle) waitSucceeded(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		j, err := b.deps.Jobs.GetAny(context.Background(), id)
		require.NoError(t, err)
		if j.State.Final() {
			require.Equal(t, jobs.Succeeded, j.State, "job %s (%s): %s", id, j.Type, j.Error)
			return
		}
		require.True(t, time.Now().Before(deadline), "job %s (%s) still %s", id, j.Type, j.State)
		time.Sleep(100 * time.Millisecond)
	}
}

// TestResponsesMatchTheSpec sends real requests to every route, happy
// paths and the main errors, and validates each response against the
// spec: status documented, headers, content type and body schema.
func TestResponsesMatchTheSpec(t *testing.T) {
	b := specSetup(t)
	f := b.seedDemo(t)
	var pairs []string
	for name, id := range f.ids {
		pairs = append(pairs, "{"+name+"}", id)
	}
	ids := strings.NewReplacer(pairs...)
	huge := `{"q":"` + strings.Repeat("a", 1<<20) + `"}`

	cases := []specCase{
		{name: "liveness", method: "GET", path: "/healthz", status: 200},
		{name: "readiness", method: "GET", path: "/readyz", status: 200},
		{name: "metrics", method: "GET", path: "/metrics", status: 200},
		{name: "spec", method: "GET", path: "/openapi.json", status: 200},
		{name: "docs page", method: "GET", path: "/docs", status: 200},
		{name: "docs script", method: "GET", path: "/docs/docs.js", status: 200},
		{name: "docs stylesheet", method: "GET", path: "/docs/docs.css", status: 200},
		{name: "monitoring without a key", method: "GET", path: "/monitoring", status: 401},
		{name: "monitoring with a bad password", method: "GET", path: "/monitoring", key: "bogus", auth: "basic", status: 401},
		{name: "monitoring with a company key", method: "GET", path: "/monitoring", key: "comp1", status: 403},
		{name: "monitoring with an admin password", method: "GET", path: "/monitoring", key: "admin", auth: "basic", status: 200},

		{name: "search", method: "POST", path: "/api/v1/customers/search", key: "comp1",
			body: `{"gender":"mujer","minDaysSinceLastPurchase":30,"sort":"totalSpent:desc","size":5}`, status: 200},
		{name: "search again, cached", method: "POST", path: "/api/v1/customers/search", key: "comp1",
			body: `{"gender":"mujer","minDaysSinceLastPurchase":30,"sort":"totalSpent:desc","size":5}`, status: 200},
		{name: "search with customers who never purchased", method: "POST", path: "/api/v1/customers/search", key: "comp1",
			body: `{"neverPurchased":true,"size":3}`, status: 200},
		{name: "search on the seed's path", method: "POST", path: "/api/customers/search", key: "comp1",
			body: `{"city":["san jose","heredia"],"minTotalSpent":10.5}`, status: 200},
		{name: "search with a bearer key", method: "POST", path: "/api/v1/customers/search", key: "comp1", auth: "bearer", body: `{}`, status: 200},
		{name: "search by an admin for a company", method: "POST", path: "/api/v1/customers/search", key: "admin", body: `{"companyId":"COMP002"}`, status: 200},
		{name: "search by an admin without a company", method: "POST", path: "/api/v1/customers/search", key: "admin", body: `{}`, status: 400, field: "companyId"},
		{name: "search with a negative amount", method: "POST", path: "/api/v1/customers/search", key: "comp1", body: `{"minTotalSpent":-1}`, status: 400, field: "minTotalSpent"},
		{name: "search with min over max", method: "POST", path: "/api/v1/customers/search", key: "comp1",
			body: `{"minTotalPurchases":5,"maxTotalPurchases":2}`, status: 400, field: "minTotalPurchases"},
		{name: "search with a page too large", method: "POST", path: "/api/v1/customers/search", key: "comp1", body: `{"size":500}`, status: 400, field: "size"},
		{name: "search with an unknown sort", method: "POST", path: "/api/v1/customers/search", key: "comp1", body: `{"sort":"age"}`, status: 400, field: "sort"},
		{name: "search with a bad cursor", method: "POST", path: "/api/v1/customers/search", key: "comp1", body: `{"cursor":"nope"}`, status: 400, field: "cursor"},
		{name: "search with an unknown field", method: "POST", path: "/api/v1/customers/search", key: "comp1", body: `{"age":30}`, status: 400, field: "age"},
		{name: "search with a bad date", method: "POST", path: "/api/v1/customers/search", key: "comp1", body: `{"lastPurchaseFrom":"01/02/2024"}`, status: 400, field: "lastPurchaseFrom"},
		{name: "search that is not an object", method: "POST", path: "/api/v1/customers/search", key: "comp1", body: `[]`, status: 400, field: ""},
		{name: "search without a key", method: "POST", path: "/api/v1/customers/search", body: `{}`, status: 401},
		{name: "search with an unknown key", method: "POST", path: "/api/v1/customers/search", key: "bogus", body: `{}`, status: 401},
		{name: "search without the search scope", method: "POST", path: "/api/v1/customers/search", key: "export", body: `{}`, status: 403},
		{name: "search as text", method: "POST", path: "/api/v1/customers/search", key: "comp1", body: `{}`, header: []string{"Content-Type", "text/plain"}, status: 415},
		{name: "search over 1 MiB", method: "POST", path: "/api/v1/customers/search", key: "comp1", body: huge, status: 413},

		{name: "segment search", method: "POST", path: "/api/v1/segments/searches", key: "comp1",
			body: `{"filter":{"gender":["female","male"],"favoriteProducts":"Casado"},"sort":"name"}`, status: 202},
		{name: "segment search with a bad filter field", method: "POST", path: "/api/v1/segments/searches", key: "comp1", body: `{"filter":{"city":5}}`, status: 400, field: "filter.city"},
		{name: "segment search with an unknown field", method: "POST", path: "/api/v1/segments/searches", key: "comp1", body: `{"filter":{},"limit":3}`, status: 400, field: "limit"},
		{name: "segment search with an unknown sort", method: "POST", path: "/api/v1/segments/searches", key: "comp1", body: `{"sort":"age"}`, status: 400, field: "sort"},
		{name: "segment search by an admin without a company", method: "POST", path: "/api/v1/segments/searches", key: "admin", body: `{}`, status: 400, field: "filter.companyId"},
		{name: "segment search without the scope", method: "POST", path: "/api/v1/segments/searches", key: "export", body: `{}`, status: 403},
		{name: "segment search status", method: "GET", path: "/api/v1/segments/searches/{segment}", key: "comp1", status: 200},
		{name: "empty segment search status", method: "GET", path: "/api/v1/segments/searches/{emptySegment}", key: "comp1", status: 200},
		{name: "queued segment search status", method: "GET", path: "/api/v1/segments/searches/{queuedSegment}", key: "comp1", status: 200},
		{name: "segment search of another company", method: "GET", path: "/api/v1/segments/searches/{segment}", key: "comp2", status: 404},
		{name: "segment search that is a sync", method: "GET", path: "/api/v1/segments/searches/{sync}", key: "admin", status: 404},
		{name: "segment results", method: "GET", path: "/api/v1/segments/searches/{segment}/results?size=5", key: "comp1", status: 200},
		{name: "empty segment results", method: "GET", path: "/api/v1/segments/searches/{emptySegment}/results", key: "comp1", status: 200},
		{name: "segment results with a bad size", method: "GET", path: "/api/v1/segments/searches/{segment}/results?size=0", key: "comp1", status: 400, field: "size"},
		{name: "segment results with a bad cursor", method: "GET", path: "/api/v1/segments/searches/{segment}/results?cursor=%21%21", key: "comp1", status: 400},
		{name: "segment results not ready", method: "GET", path: "/api/v1/segments/searches/{queuedSegment}/results", key: "comp1", status: 409},
		{name: "segment results of a missing search", method: "GET", path: "/api/v1/segments/searches/{missing}/results", key: "comp1", status: 404},

		{name: "export", method: "POST", path: "/api/v1/exports", key: "comp1",
			body: `{"filter":{"hasEmail":true},"format":"ndjson","fields":["customerId","totalSpent"]}`, status: 202},
		{name: "export in an unknown format", method: "POST", path: "/api/v1/exports", key: "comp1", body: `{"format":"xlsx"}`, status: 400, field: "format"},
		{name: "export of an unknown field", method: "POST", path: "/api/v1/exports", key: "comp1", body: `{"fields":["age"]}`, status: 400, field: "fields[0]"},
		{name: "export with a bad filter", method: "POST", path: "/api/v1/exports", key: "comp1",
			body: `{"filter":{"minDaysSinceLastPurchase":"x"}}`, status: 400, field: "filter.minDaysSinceLastPurchase"},
		{name: "export with a wrong type", method: "POST", path: "/api/v1/exports", key: "comp1", body: `{"excelBom":"yes"}`, status: 400, field: "excelBom"},
		{name: "export without the scope", method: "POST", path: "/api/v1/exports", key: "search", body: `{}`, status: 403},
		{name: "export as text", method: "POST", path: "/api/v1/exports", key: "comp1", body: `{}`, header: []string{"Content-Type", "text/plain"}, status: 415},
		{name: "export over 1 MiB", method: "POST", path: "/api/v1/exports", key: "comp1", body: huge, status: 413},
		{name: "export status", method: "GET", path: "/api/v1/exports/{export}", key: "comp1", status: 200},
		{name: "queued export status", method: "GET", path: "/api/v1/exports/{queuedExport}", key: "comp1", status: 200},
		{name: "export of another company", method: "GET", path: "/api/v1/exports/{export}", key: "comp2", status: 404},
		{name: "export that is a segment search", method: "GET", path: "/api/v1/exports/{segment}", key: "comp1", status: 404},
		{name: "download", method: "GET", path: "/api/v1/exports/{export}/download", key: "comp1", status: 200},
		{name: "download, unchanged", method: "GET", path: "/api/v1/exports/{export}/download", key: "comp1", header: []string{"If-None-Match", "{etag}"}, status: 304},
		{name: "download headers", method: "HEAD", path: "/api/v1/exports/{export}/download", key: "comp1", status: 200},
		{name: "download not ready", method: "GET", path: "/api/v1/exports/{queuedExport}/download", key: "comp1", status: 409},
		{name: "download of a missing export", method: "GET", path: "/api/v1/exports/{missing}/download", key: "comp1", status: 404},
		{name: "delete an export", method: "DELETE", path: "/api/v1/exports/{deletable}", key: "comp1", status: 204},
		{name: "download a deleted export", method: "GET", path: "/api/v1/exports/{deletable}/download", key: "comp1", status: 410},
		{name: "delete a missing export", method: "DELETE", path: "/api/v1/exports/{missing}", key: "comp1", status: 404},
		{name: "export audit", method: "GET", path: "/api/v1/exports/audit?limit=10", key: "admin", status: 200},
		{name: "export audit for a company key", method: "GET", path: "/api/v1/exports/audit", key: "comp1", status: 403},
		{name: "export audit with a bad limit", method: "GET", path: "/api/v1/exports/audit?limit=0", key: "admin", status: 400, field: "limit"},
		{name: "export audit with a bad cursor", method: "GET", path: "/api/v1/exports/audit?cursor=%21", key: "admin", status: 400, field: "cursor"},

		{name: "sync while one is queued", method: "POST", path: "/api/v1/syncs", key: "admin", body: `{"mode":"full"}`, status: 409},
		{name: "incremental sync", method: "POST", path: "/api/v1/syncs", key: "admin", body: `{"mode":"incremental"}`, status: 202},
		{name: "reconcile pass", method: "POST", path: "/api/v1/syncs", key: "admin", body: `{"mode":"reconcile"}`, status: 202},
		{name: "reconcile pass by a company key", method: "POST", path: "/api/v1/syncs", key: "comp1", body: `{"mode":"reconcile"}`, status: 403},
		{name: "sync in an unknown mode", method: "POST", path: "/api/v1/syncs", key: "admin", body: `{"mode":"sometimes"}`, status: 400, field: "mode"},
		{name: "sync with malformed JSON", method: "POST", path: "/api/v1/syncs", key: "admin", body: `{`, status: 400, field: "body"},
		{name: "sync without the scope", method: "POST", path: "/api/v1/syncs", key: "search", body: `{"mode":"full"}`, status: 403},
		{name: "sync over 1 MiB", method: "POST", path: "/api/v1/syncs", key: "admin", body: huge, status: 413},
		{name: "sync as text", method: "POST", path: "/api/v1/syncs", key: "admin", body: `{}`, header: []string{"Content-Type", "text/plain"}, status: 415},
		{name: "sync run", method: "GET", path: "/api/v1/syncs/{sync}", key: "admin", status: 200},
		{name: "queued sync run", method: "GET", path: "/api/v1/syncs/{queuedSync}", key: "admin", status: 200},
		{name: "sync run of the admins, for a company", method: "GET", path: "/api/v1/syncs/{sync}", key: "comp1", status: 404},
		{name: "sync run that is a segment search", method: "GET", path: "/api/v1/syncs/{segment}", key: "comp1", status: 404},
		{name: "refresh", method: "POST", path: "/api/v1/customers/refresh", key: "comp1", body: `{"customerIds":["1","2"]}`, status: 202},
		{name: "refresh of nobody", method: "POST", path: "/api/v1/customers/refresh", key: "comp1", body: `{"customerIds":[]}`, status: 400, field: "customerIds"},
		{name: "refresh without the scope", method: "POST", path: "/api/v1/customers/refresh", key: "search", body: `{"customerIds":["1"]}`, status: 403},

		{name: "jobs", method: "GET", path: "/api/v1/jobs", key: "comp1", status: 200},
		{name: "jobs of every company", method: "GET", path: "/api/v1/jobs?limit=2", key: "admin", status: 200},
		{name: "succeeded exports", method: "GET", path: "/api/v1/jobs?type=export&state=succeeded&limit=1", key: "comp1", status: 200},
		{name: "jobs in an unknown state", method: "GET", path: "/api/v1/jobs?state=lost", key: "comp1", status: 400, field: "state"},
		{name: "jobs with a bad limit", method: "GET", path: "/api/v1/jobs?limit=1000", key: "comp1", status: 400, field: "limit"},
		{name: "jobs without a key", method: "GET", path: "/api/v1/jobs", status: 401},
		{name: "a succeeded job", method: "GET", path: "/api/v1/jobs/{segment}", key: "comp1", status: 200},
		{name: "a sync job", method: "GET", path: "/api/v1/jobs/{sync}", key: "admin", status: 200},
		{name: "a job of another company", method: "GET", path: "/api/v1/jobs/{segment}", key: "comp2", status: 404},
		{name: "cancel without the job's scope", method: "DELETE", path: "/api/v1/jobs/{queuedExport}", key: "search", status: 403},
		{name: "cancel a queued job", method: "DELETE", path: "/api/v1/jobs/{queuedSync}", key: "admin", status: 200},
		{name: "cancel it again", method: "DELETE", path: "/api/v1/jobs/{queuedSync}", key: "admin", status: 409},
		{name: "cancel a missing job", method: "DELETE", path: "/api/v1/jobs/{missing}", key: "admin", status: 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, data := b.call(t, c, f.keys, ids)
			require.Equal(t, c.status, res.StatusCode, truncate(data))
			if c.field != "" {
				var p api.Problem
				require.NoError(t, json.Unmarshal(data, &p))
				require.Contains(t, fieldsOf(p), c.field, "the problem names the field")
			}
		})
	}

	// A key over its budget: 429 with Retry-After.
	t.Run("rate limited", func(t *testing.T) {
		limited := b.variant(t, func(d *app.App) { d.Config.RateLimitPerMinute, d.Config.RateLimitBurst = 1, 1 })
		keys := map[string]string{"k": limited.key(t, "COMP001")}
		c := specCase{method: "GET", path: "/api/v1/jobs", key: "k"}
		res, _ := limited.call(t, c, keys, ids)
		require.Equal(t, http.StatusOK, res.StatusCode)
		res, _ = limited.call(t, c, keys, ids)
		require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
		require.NotEmpty(t, res.Header.Get("Retry-After"))
	})

	// No search engine: readiness and search answer 503.
	t.Run("unavailable", func(t *testing.T) {
		degraded := b.variant(t, func(d *app.App) { d.Engine = nil })
		res, _ := degraded.call(t, specCase{method: "GET", path: "/readyz"}, f.keys, ids)
		require.Equal(t, http.StatusOK, res.StatusCode, "degraded, still serving PostgreSQL routes")
		res, _ = degraded.call(t, specCase{method: "GET", path: "/readyz?strict=1"}, f.keys, ids)
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
		res, _ = degraded.call(t, specCase{method: "POST", path: "/api/v1/customers/search", key: "comp1", body: `{}`}, f.keys, ids)
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	})
}

// variant serves the same dependencies, changed by change, on a server of
// its own.
func (b *specBundle) variant(t *testing.T, change func(*app.App)) *specBundle {
	t.Helper()
	deps := *b.deps
	change(&deps)
	srv := httptest.NewServer(api.New(deps.APIParams()).Handler())
	t.Cleanup(srv.Close)
	return &specBundle{testBundle: &testBundle{deps: &deps, srv: srv}, doc: b.doc, router: b.router}
}

func fieldsOf(p api.Problem) []string {
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		out[i] = e.Field
	}
	return out
}

// TestDocsPageIsSelfContained checks the page loads nothing from other
// hosts: its assets are served by the API itself.
func TestDocsPageIsSelfContained(t *testing.T) {
	b := specSetup(t)
	for _, path := range []string{"/docs", "/docs/docs.js", "/docs/docs.css"} {
		res, err := http.Get(b.srv.URL + path)
		require.NoError(t, err)
		data, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		require.NotRegexp(t, `(?i)(src|href)\s*=\s*["']?(https?:)?//`, string(data), "%s loads from another host", path)
		require.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'none'", path)
	}
	res, err := http.Get(b.srv.URL + "/docs")
	require.NoError(t, err)
	defer res.Body.Close()
	page, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	for _, asset := range []string{`src="/docs/docs.js"`, `href="/docs/docs.css"`} {
		require.True(t, bytes.Contains(page, []byte(asset)), asset)
	}
}
