// Command isolation probes, from outside the test suite, that one
// company's API key cannot reach another company's data through any route
// of the OpenAPI document:
//
//	make run   # in another terminal
//	A=$(bin/reactivation apikey create --company COMP001 --scopes search,export,sync --name probe-a)
//	B=$(bin/reactivation apikey create --company COMP002 --scopes search,export,sync --name probe-b)
//	ALL=$(bin/reactivation apikey create --company COMP001 --scopes search,export,sync,admin --name probe-all)
//	go run ./deploy/local/isolation --api http://localhost:8080 --key-a "$A" --key-a-all "$ALL" --key-b "$B"
//
// As company B it creates an export, a campaign, a segment search and a
// refresh, and reads a few of B's customers. Then, for every operation of
// api/openapi.yaml, it sends company A's key at B's resources: a route that
// names a resource must answer 404 (or 403 when A's key lacks the scope;
// with --key-a-all, a key of A with every scope, the routes are probed
// again and only 404 passes), and no answer may carry B's data (B's
// customers' ids, names, e-mails and phones, B's job and campaign ids, the
// campaign's name). Deletions and cancels are checked to have changed
// nothing for B. A route of the document the probe has no case for fails
// the probe, so new routes are probed too. It prints one line per request
// and exits 1 on any breach.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

func main() {
	api := flag.String("api", envOr("API_URL", "http://localhost:8080"), "the API's base URL")
	keyA := flag.String("key-a", os.Getenv("ISOLATION_KEY_A"), "company A's key (scopes search, export, sync)")
	keyAll := flag.String("key-a-all", os.Getenv("ISOLATION_KEY_A_ALL"), "optional: another key of company A with every scope (admin too); the routes are probed again with it, and must then answer 404, never 403")
	keyB := flag.String("key-b", os.Getenv("ISOLATION_KEY_B"), "company B's key (scopes search, export, sync), another company")
	spec := flag.String("spec", "api/openapi.yaml", "the OpenAPI document whose routes are probed")
	timeout := flag.Duration("timeout", 3*time.Minute, "how long B's jobs may take to finish")
	flag.Parse()
	if *keyA == "" || *keyB == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "isolation: usage: isolation --api URL --key-a KEY --key-b KEY [--spec api/openapi.yaml]")
		os.Exit(2)
	}
	p := &probe{base: strings.TrimRight(*api, "/"), a: *keyA, b: *keyB, http: &http.Client{Timeout: 30 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout+5*time.Minute)
	defer cancel()
	if err := p.run(ctx, *spec, *timeout, *keyAll); err != nil {
		fmt.Fprintln(os.Stderr, "isolation:", err)
		os.Exit(2)
	}
	if len(p.breaches) > 0 {
		fmt.Fprintf(os.Stderr, "isolation: %d breaches in %d requests\n", len(p.breaches), p.requests)
		for _, b := range p.breaches {
			fmt.Fprintln(os.Stderr, "  BREACH", b)
		}
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "isolation: %d requests with company A's key over %d operations; none reached company %s's data\n",
		p.requests, p.operations, p.companyB)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// probe holds B's resources and what A's requests did with them.
type probe struct {
	base string
	a, b string
	http *http.Client

	companyA, companyB string
	// strict is set while A's key has every scope: a route on B's
	// resources must then answer 404, never 403.
	strict bool
	// markers are strings only B's data contains.
	markers []string
	// ids of B's resources by kind: export, segment, refresh, campaign.
	ids        map[string]string
	customersB []string
	campaign   string // the campaign's name

	requests, operations int
	breaches             []string
}

type response struct {
	status int
	body   []byte
}

func (p *probe) do(ctx context.Context, key, method, path string, body any, contentType string) (response, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		r = bytes.NewReader(raw)
		contentType = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, r)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("X-API-Key", key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := p.http.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if len(raw) > 2 && raw[0] == 0x1f && raw[1] == 0x8b { // an export file
		if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
			if un, err := io.ReadAll(zr); err == nil {
				raw = un
			}
		}
	}
	return response{res.StatusCode, raw}, nil
}

// asB sends a request with B's key and decodes a JSON answer of want.
func (p *probe) asB(ctx context.Context, method, path string, body any, want int) (map[string]any, error) {
	res, err := p.do(ctx, p.b, method, path, body, "")
	if err != nil {
		return nil, err
	}
	if res.status != want {
		return nil, fmt.Errorf("as B: %s %s answered %d, want %d: %.300s", method, path, res.status, want, res.body)
	}
	out := map[string]any{}
	if len(res.body) > 0 {
		if err := json.Unmarshal(res.body, &out); err != nil {
			return nil, fmt.Errorf("as B: %s %s: %w", method, path, err)
		}
	}
	return out, nil
}

// run prepares B's resources and probes every operation of the document
// with A's key, then, when keyAll is set, again with that key of A with
// every scope.
func (p *probe) run(ctx context.Context, specPath string, timeout time.Duration, keyAll string) error {
	doc, err := openapi3.NewLoader().LoadFromFile(specPath)
	if err != nil {
		return fmt.Errorf("read %s: %w", specPath, err)
	}
	if err := p.prepare(ctx, timeout); err != nil {
		return err
	}
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			public := op.Security != nil && len(*op.Security) == 0
			ops = append(ops, method+" "+path+map[bool]string{true: " public"}[public])
		}
	}
	sort.Strings(ops)
	if err := p.probeAll(ctx, ops); err != nil {
		return err
	}
	if keyAll != "" {
		p.a, p.strict = keyAll, true
		if c, _, err := p.companyOf(ctx, keyAll); err != nil || c != p.companyA {
			return fmt.Errorf("--key-a-all must be a key of company %s (%s): %v", p.companyA, c, err)
		}
		fmt.Fprintln(os.Stderr, "isolation: again with A's key of every scope")
		if err := p.probeAll(ctx, ops); err != nil {
			return err
		}
	}
	return p.checkBUntouched(ctx)
}

// probeAll runs the case of every operation.
func (p *probe) probeAll(ctx context.Context, ops []string) error {
	for _, op := range ops {
		f := strings.Fields(op)
		method, path, public := f[0], f[1], len(f) == 3
		c, ok := cases[method+" "+path]
		if !ok && public {
			c = probePublic
		} else if !ok {
			p.breach("%s %s: the probe has no case for this operation; add one to deploy/local/isolation", method, path)
			continue
		}
		p.operations++
		if err := c(ctx, p, method, path); err != nil {
			return err
		}
	}
	return nil
}

// companyOf is the company of key's first search hits, and the hits.
func (p *probe) companyOf(ctx context.Context, key string) (string, []map[string]any, error) {
	res, err := p.do(ctx, key, "POST", "/api/v1/customers/search", map[string]any{"size": 20}, "")
	if err != nil {
		return "", nil, err
	}
	var page struct {
		Customers []map[string]any `json:"customers"`
	}
	if res.status != 200 || json.Unmarshal(res.body, &page) != nil || len(page.Customers) == 0 {
		return "", nil, fmt.Errorf("search: answered %d %.300s (is the index synced, and the key a company key with the search scope?)", res.status, res.body)
	}
	c, _ := page.Customers[0]["companyId"].(string)
	return c, page.Customers, nil
}

// prepare reads B's company and customers, and creates B's resources,
// waiting for their jobs to finish.
func (p *probe) prepare(ctx context.Context, timeout time.Duration) error {
	var err error
	var customers []map[string]any
	if p.companyA, _, err = p.companyOf(ctx, p.a); err != nil {
		return fmt.Errorf("key A: %w", err)
	}
	if p.companyB, customers, err = p.companyOf(ctx, p.b); err != nil {
		return fmt.Errorf("key B: %w", err)
	}
	if p.companyA == p.companyB {
		return fmt.Errorf("both keys belong to company %s: name two companies", p.companyA)
	}
	for _, c := range customers {
		id, _ := c["customerId"].(string)
		p.customersB = append(p.customersB, id)
		for _, f := range []string{"customerId", "name", "email", "phone"} {
			if v, _ := c[f].(string); len(v) >= 5 {
				p.markers = append(p.markers, v)
			}
		}
	}
	p.campaign = fmt.Sprintf("isolation probe %d", time.Now().UnixNano())
	p.markers = append(p.markers, p.campaign)
	p.ids = map[string]string{}
	created := []struct {
		kind, path string
		body       any
		id         string
	}{
		{"export", "/api/v1/exports", map[string]any{"filter": map[string]any{}, "format": "ndjson"}, "jobId"},
		{"segment", "/api/v1/segments/searches", map[string]any{"filter": map[string]any{}}, "jobId"},
		{"refresh", "/api/v1/customers/refresh", map[string]any{"customerIds": p.customersB[:1]}, "jobId"},
		{"campaign", "/api/v1/campaigns", map[string]any{"name": p.campaign, "filter": map[string]any{}, "holdoutPercent": 10}, "campaignId"},
	}
	for _, c := range created {
		out, err := p.asB(ctx, "POST", c.path, c.body, http.StatusAccepted)
		if err != nil {
			return err
		}
		id, _ := out[c.id].(string)
		if id == "" {
			return fmt.Errorf("as B: POST %s gave no %s", c.path, c.id)
		}
		p.ids[c.kind] = id
		p.markers = append(p.markers, id)
		if job, _ := out["jobId"].(string); c.kind == "campaign" && job != "" {
			p.ids["campaignJob"] = job
			p.markers = append(p.markers, job)
		}
	}
	deadline := time.Now().Add(timeout)
	for _, kind := range []string{"export", "segment", "refresh", "campaignJob"} {
		for {
			out, err := p.asB(ctx, "GET", "/api/v1/jobs/"+p.ids[kind], nil, http.StatusOK)
			if err != nil {
				return err
			}
			if state, _ := out["state"].(string); state == "succeeded" {
				break
			} else if state == "failed" || state == "canceled" {
				return fmt.Errorf("as B: the %s job ended %s: %v", kind, state, out["error"])
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("as B: the %s job did not finish within %s (are workers running?)", kind, timeout)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	fmt.Fprintf(os.Stderr, "isolation: company A is %s, company B is %s; B's export, segment search, refresh and campaign are ready\n",
		p.companyA, p.companyB)
	return nil
}

func (p *probe) breach(format string, args ...any) {
	p.breaches = append(p.breaches, fmt.Sprintf(format, args...))
}

// send makes A's request and checks it: status among allowed, and no
// marker of B's data in the body. It returns the response for further
// checks.
func (p *probe) send(ctx context.Context, method, path string, body any, contentType string, allowed ...int) (response, error) {
	res, err := p.do(ctx, p.a, method, path, body, contentType)
	if err != nil {
		return res, err
	}
	p.requests++
	fmt.Printf("%-6s %-60s %d\n", method, path, res.status)
	if !slices.Contains(allowed, res.status) {
		p.breach("%s %s with A's key answered %d, want one of %v: %.200s", method, path, res.status, allowed, res.body)
	}
	p.noMarkers(method+" "+path, res.body)
	return res, nil
}

// noMarkers records a breach when body carries B's data. An id A itself
// sent in the path may be echoed in an error message; only data A did not
// name counts.
func (p *probe) noMarkers(what string, body []byte) {
	for _, m := range p.markers {
		if bytes.Contains(body, []byte(m)) && !strings.Contains(what, m) {
			p.breach("%s with A's key shows company B's data (%.2s…, %d characters)", what, m, len(m))
		}
	}
}

// caseFunc probes one operation.
type caseFunc func(ctx context.Context, p *probe, method, path string) error

// notFound is 404, or 403 when A's key may lack the route's scope.
func (p *probe) notFound() []int {
	if p.strict {
		return []int{http.StatusNotFound}
	}
	return []int{http.StatusNotFound, http.StatusForbidden}
}

// onB names B's resource of kind in the path.
func onB(kind string, body any, contentType string) caseFunc {
	return func(ctx context.Context, p *probe, method, path string) error {
		_, err := p.send(ctx, method, strings.ReplaceAll(path, "{id}", p.ids[kind]), body, contentType, p.notFound()...)
		return err
	}
}

// onEveryJob names each of B's jobs in the path.
func onEveryJob(ctx context.Context, p *probe, method, path string) error {
	for _, kind := range []string{"export", "segment", "refresh", "campaignJob"} {
		if _, err := p.send(ctx, method, strings.ReplaceAll(path, "{id}", p.ids[kind]), nil, "", p.notFound()...); err != nil {
			return err
		}
	}
	return nil
}

// listing reads a collection as A: it may answer, never with B's data.
func listing(query string) caseFunc {
	return func(ctx context.Context, p *probe, method, path string) error {
		_, err := p.send(ctx, method, path+query, nil, "", http.StatusOK, http.StatusForbidden)
		return err
	}
}

// pinned posts a body naming B's company (and B's customers); a company
// key's filter is pinned to its own company, so the answer is A's or a
// refusal, never B's.
func pinned(body func(p *probe) any, allowed ...int) caseFunc {
	return func(ctx context.Context, p *probe, method, path string) error {
		res, err := p.send(ctx, method, path, body(p), "", allowed...)
		if err != nil || res.status != http.StatusAccepted {
			return err
		}
		var out map[string]any
		if json.Unmarshal(res.body, &out) != nil {
			return nil
		}
		job, _ := out["jobId"].(string)
		if job == "" {
			return nil
		}
		// A's own job: wait for it, then read everything it produced.
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			j, err := p.send(ctx, "GET", "/api/v1/jobs/"+job, nil, "", http.StatusOK)
			if err != nil {
				return err
			}
			if bytes.Contains(j.body, []byte(`"succeeded"`)) || bytes.Contains(j.body, []byte(`"failed"`)) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		switch path {
		case "/api/v1/exports":
			_, err = p.send(ctx, "GET", "/api/v1/exports/"+job+"/download", nil, "", http.StatusOK)
		case "/api/v1/segments/searches":
			_, err = p.send(ctx, "GET", "/api/v1/segments/searches/"+job+"/results", nil, "", http.StatusOK)
		case "/api/v1/campaigns":
			if id, _ := out["campaignId"].(string); id != "" {
				_, err = p.send(ctx, "GET", "/api/v1/campaigns/"+id, nil, "", http.StatusOK)
			}
		}
		return err
	}
}

// probePublic reads an unauthenticated page: any status, none of B's data.
func probePublic(ctx context.Context, p *probe, method, path string) error {
	path = strings.ReplaceAll(path, "{id}", p.ids["campaign"])
	_, err := p.send(ctx, method, path, nil, "", http.StatusOK, http.StatusNotFound, http.StatusServiceUnavailable)
	return err
}

func filterOfB(p *probe) map[string]any { return map[string]any{"companyId": p.companyB} }

// cases has one probe per operation of api/openapi.yaml.
var cases = map[string]caseFunc{
	"POST /api/v1/customers/search": pinned(func(p *probe) any {
		return map[string]any{"companyId": p.companyB, "size": 100}
	}, http.StatusOK, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound),
	"POST /api/customers/search": pinned(func(p *probe) any {
		return map[string]any{"companyId": p.companyB, "size": 100}
	}, http.StatusOK, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound),
	"POST /api/v1/segments/searches": pinned(func(p *probe) any { return map[string]any{"filter": filterOfB(p)} },
		http.StatusAccepted, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound),
	"GET /api/v1/segments/searches/{id}":         onB("segment", nil, ""),
	"GET /api/v1/segments/searches/{id}/results": onB("segment", nil, ""),
	"POST /api/v1/exports": pinned(func(p *probe) any { return map[string]any{"filter": filterOfB(p), "format": "ndjson"} },
		http.StatusAccepted, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound),
	"GET /api/v1/exports/audit":          listing("?limit=100"),
	"GET /api/v1/exports/{id}":           onB("export", nil, ""),
	"DELETE /api/v1/exports/{id}":        onB("export", nil, ""),
	"GET /api/v1/exports/{id}/download":  onB("export", nil, ""),
	"HEAD /api/v1/exports/{id}/download": onB("export", nil, ""),
	"POST /api/v1/syncs": func(ctx context.Context, p *probe, method, path string) error {
		for _, mode := range []string{"full", "incremental", "reconcile"} {
			if _, err := p.send(ctx, method, path, map[string]any{"mode": mode}, "", http.StatusForbidden); err != nil {
				return err
			}
		}
		return nil
	},
	"GET /api/v1/syncs/{id}": onB("refresh", nil, ""),
	"POST /api/v1/customers/refresh": func(ctx context.Context, p *probe, method, path string) error {
		res, err := p.send(ctx, method, path, map[string]any{"customerIds": p.customersB}, "", http.StatusAccepted, http.StatusForbidden)
		if err != nil || res.status != http.StatusAccepted {
			return err
		}
		var out struct {
			Job struct {
				Params struct {
					Customers int `json:"customers"`
					Ignored   int `json:"ignored"`
				} `json:"params"`
			} `json:"job"`
		}
		if err := json.Unmarshal(res.body, &out); err != nil {
			return fmt.Errorf("refresh answer: %w", err)
		}
		if out.Job.Params.Customers != 0 || out.Job.Params.Ignored != len(p.customersB) {
			p.breach("POST %s with A's key on B's %d customers refreshes %d, ignores %d", path, len(p.customersB),
				out.Job.Params.Customers, out.Job.Params.Ignored)
		}
		return nil
	},
	"GET /api/v1/scores": func(ctx context.Context, p *probe, method, path string) error {
		_, err := p.send(ctx, method, path+"?companyId="+p.companyB, nil, "", p.notFound()...)
		return err
	},
	"GET /api/v1/jobs": func(ctx context.Context, p *probe, method, path string) error {
		for _, q := range []string{"?limit=100", "?type=export&limit=100", "?type=campaign.freeze&limit=100", "?type=sync.refresh&limit=100"} {
			if _, err := p.send(ctx, method, path+q, nil, "", http.StatusOK); err != nil {
				return err
			}
		}
		return nil
	},
	"GET /api/v1/jobs/{id}":    onEveryJob,
	"DELETE /api/v1/jobs/{id}": onEveryJob,
	"POST /api/v1/campaigns": pinned(func(p *probe) any {
		return map[string]any{"name": "probe of A", "filter": filterOfB(p), "holdoutPercent": 10}
	}, http.StatusAccepted, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound),
	"GET /api/v1/campaigns":              listing("?limit=100"),
	"GET /api/v1/campaigns/{id}":         onB("campaign", nil, ""),
	"DELETE /api/v1/campaigns/{id}":      onB("campaign", nil, ""),
	"GET /api/v1/campaigns/{id}/report":  onB("campaign", nil, ""),
	"POST /api/v1/campaigns/{id}/events": nil, // set in init: needs B's customers
	"PUT /api/v1/companies/{companyId}/control-group": func(ctx context.Context, p *probe, method, path string) error {
		_, err := p.send(ctx, method, strings.ReplaceAll(path, "{companyId}", p.companyB), map[string]any{"percent": 5}, "", p.notFound()...)
		return err
	},
	"GET /monitoring": func(ctx context.Context, p *probe, method, path string) error {
		_, err := p.send(ctx, method, path, nil, "", http.StatusForbidden, http.StatusNotFound, http.StatusUnauthorized)
		return err
	},
	"GET /metrics": probePublic,
}

func init() {
	cases["POST /api/v1/campaigns/{id}/events"] = func(ctx context.Context, p *probe, method, path string) error {
		line := fmt.Sprintf(`{"customerId":%q,"event":"unsubscribed","at":%q}`, p.customersB[0], time.Now().UTC().Format(time.RFC3339))
		return onB("campaign", line+"\n", "application/x-ndjson")(ctx, p, method, path)
	}
}

// checkBUntouched reads B's resources as B after A's deletes and cancels:
// each is still there and still succeeded.
func (p *probe) checkBUntouched(ctx context.Context) error {
	for _, path := range []string{"/api/v1/exports/" + p.ids["export"], "/api/v1/campaigns/" + p.ids["campaign"],
		"/api/v1/jobs/" + p.ids["segment"], "/api/v1/jobs/" + p.ids["refresh"]} {
		out, err := p.asB(ctx, "GET", path, nil, http.StatusOK)
		if err != nil {
			p.breach("after A's requests, B's %s: %v", path, err)
			continue
		}
		if state, _ := out["state"].(string); state == "canceled" || state == "deleted" || state == "archived" {
			p.breach("after A's requests, B's %s is %s", path, state)
		}
	}
	res, err := p.do(ctx, p.b, "GET", "/api/v1/exports/"+p.ids["export"]+"/download", nil, "")
	if err != nil {
		return err
	}
	if res.status != http.StatusOK {
		p.breach("after A's requests, B's export download answers %d", res.status)
	}
	if p.requests == 0 {
		return errors.New("no request was probed")
	}
	return nil
}
