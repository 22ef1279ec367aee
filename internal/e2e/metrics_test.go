package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/syncrun"
)

// PromQL words that are not metric names: operators and modifiers.
// Functions and aggregations are recognised by the "(" that follows them.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
	"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true,
	"start": true, "end": true,
}

var (
	promqlStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promqlBraces   = regexp.MustCompile(`\{[^}]*\}`)
	promqlBrackets = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlVars     = regexp.MustCompile(`\$\{?\w+\}?`)
	promqlTokens   = regexp.MustCompile(`\d[\w.]*|[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
)

// metricNames returns the metric names a PromQL expression selects:
// string literals, label matchers, ranges, grouping label lists and
// dashboard variables are removed, then every identifier that is neither a
// keyword nor called as a function is a metric name.
func metricNames(expr string) []string {
	e := promqlStrings.ReplaceAllString(expr, `""`)
	e = promqlBraces.ReplaceAllString(e, " ")
	e = promqlBrackets.ReplaceAllString(e, " ")
	e = promqlGrouping.ReplaceAllString(e, " ")
	e = promqlVars.ReplaceAllString(e, " ")
	var out []string
	for _, m := range promqlTokens.FindAllStringSubmatch(e, -1) {
		tok := m[0]
		if m[1] != "" || tok[0] >= '0' && tok[0] <= '9' || promqlKeywords[strings.ToLower(tok)] {
			continue
		}
		out = append(out, tok)
	}
	return out
}

func TestMetricNamesOfPromQL(t *testing.T) {
	got := metricNames(`histogram_quantile(0.95, sum by (route, le) (rate(http_request_duration_seconds_bucket{job=~"$api_job", route!~"/a|b"}[$__rate_interval])))
		/ on (instance) group_left(version) max without (pod) (reactivation_build_info offset 5m) > bool 1e3
		or absent_over_time(x:recorded:rate5m{mode="full"}[26h]) unless time() - up`)
	require.Equal(t, []string{"http_request_duration_seconds_bucket", "reactivation_build_info", "x:recorded:rate5m", "up"}, got)
}

// usedMetrics collects every metric name the Grafana dashboard (panel
// targets and template variables) and the alert rules query.
func usedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	raw, err := os.ReadFile("../../deploy/grafana/dashboards/reactivation.json")
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range metricNames(tg.Expr) {
				used[n] = append(used[n], "dashboard: "+p.Title)
			}
		}
	}
	labelValues := regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][\w:]*)\s*,`)
	for _, v := range dash.Templating.List {
		if m := labelValues.FindStringSubmatch(v.Definition); m != nil {
			used[m[1]] = append(used[m[1]], "dashboard variable")
		}
	}
	raw, err = os.ReadFile("../../deploy/prometheus/alerts.yml")
	require.NoError(t, err)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &rules))
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, n := range metricNames(r.Expr) {
				used[n] = append(used[n], "alert "+r.Alert)
			}
		}
	}
	return used
}

// scrape reads a /metrics page and returns its sample names (histograms
// appear as their _bucket, _sum and _count series, as PromQL sees them).
func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	code, body := probe(t, url)
	require.Equal(t, http.StatusOK, code, url)
	names := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		names[name] = true
	}
	return names
}

// TestDashboardAndAlertMetricsExist starts the real api, worker and
// scheduler binaries, makes them do what fills their metrics (a full and
// an incremental sync over two shards, searches through the cache, an
// export), scrapes each /metrics and checks that every metric name the
// Grafana dashboard and the alert rules use is served by at least one of
// them, and that each process serves reactivation_build_info.
func TestDashboardAndAlertMetricsExist(t *testing.T) {
	b := setup(t, 1500, nil)
	ctx := context.Background()
	w := start(t, b.cfg, "worker")
	s := start(t, b.cfg, "scheduler")
	a := start(t, b.cfg, "api")
	workerURL := w.URL()
	schedulerURL := s.URL()
	apiURL := a.URL()

	for _, mode := range []syncrun.Mode{syncrun.ModeFull, syncrun.ModeIncremental} {
		j := waitJob(t, b.deps.Jobs, b.startSync(t, mode), 5*time.Minute)
		require.Equal(t, jobs.Succeeded, j.State, j.Error)
	}
	exp := waitJob(t, b.deps.Jobs, b.startExport(t, `{"companyId":"COMP001"}`, export.Options{Format: export.FormatCSV}), 2*time.Minute)
	require.Equal(t, jobs.Succeeded, exp.State, exp.Error)

	_, key, err := b.deps.Keys.Create(ctx, auth.NewKey{Name: "metrics", CompanyID: "COMP001", Scopes: []auth.Scope{auth.ScopeSearch}})
	require.NoError(t, err)
	for range 2 { // a miss, then a hit
		req, err := http.NewRequest(http.MethodPost, apiURL+"/api/v1/customers/search", bytes.NewReader([]byte(`{"gender":"mujer"}`)))
		require.NoError(t, err)
		req.Header.Set("X-API-Key", key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
	}

	served := map[string]bool{}
	for _, url := range []string{apiURL, workerURL, schedulerURL} {
		names := scrape(t, url+"/metrics")
		require.True(t, names["reactivation_build_info"], "%s serves reactivation_build_info", url)
		for n := range names {
			served[n] = true
		}
	}
	// Series Prometheus makes itself for every target.
	served["up"] = true

	used := usedMetrics(t)
	require.Greater(t, len(used), 10)
	var missing []string
	for name, where := range used {
		if !served[name] {
			missing = append(missing, name+" (used by "+strings.Join(where, ", ")+")")
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "metrics no process serves")
	for _, n := range []string{"asynq_queue_size", "asynq_queue_latency_seconds", "http_request_duration_seconds_bucket",
		"reactivation_task_duration_seconds_count", "reactivation_index_drift_documents", "reactivation_bulk_item_failures_total"} {
		require.Contains(t, used, n, "the dashboard or the alerts use %s", n)
	}
}
