package deploy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"
)

// TestComposeFileLoads loads docker-compose.yml with the Compose
// Specification's own loader (schema validation, interpolation,
// normalisation) and checks the observability services and the files they
// mount exist.
func TestComposeFileLoads(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"},
		cli.WithWorkingDirectory(".."), cli.WithEnv([]string{}), cli.WithName("reactivation"))
	require.NoError(t, err)
	p, err := opts.LoadProject(context.Background())
	require.NoError(t, err)
	for _, name := range []string{"postgres", "redis", "elasticsearch", "migrate", "api", "worker", "scheduler", "prometheus", "grafana"} {
		_, err := p.GetService(name)
		require.NoError(t, err, "service %s", name)
	}
	for _, name := range []string{"prometheus", "grafana"} {
		svc, _ := p.GetService(name)
		require.NotEmpty(t, svc.Volumes)
		for _, v := range svc.Volumes {
			if v.Type == "bind" {
				_, err := os.Stat(v.Source)
				require.NoError(t, err, "%s mounts %s", name, v.Source)
			}
		}
	}
	api, _ := p.GetService("api")
	require.Equal(t, "http://prometheus:9090", *api.Environment["PROMETHEUS_URL"])
	worker, _ := p.GetService("worker")
	require.NotNil(t, worker.HealthCheck)
	require.Contains(t, strings.Join(worker.HealthCheck.Test, " "), "http://127.0.0.1:9091/healthz")
	grace := time.Duration(*worker.StopGracePeriod)
	shutdown, err := time.ParseDuration(*worker.Environment["SHUTDOWN_TIMEOUT"])
	require.NoError(t, err)
	require.Greater(t, grace, shutdown, "Docker must not kill a worker still finishing its tasks")

	// The compose Prometheus scrapes the three processes under the job
	// names the alerts and the dashboard use.
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	raw, err := os.ReadFile("prometheus/prometheus.compose.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, &prom))
	var jobs []string
	for _, sc := range prom.ScrapeConfigs {
		jobs = append(jobs, sc.JobName)
	}
	require.Subset(t, jobs, []string{"reactivation-api", "reactivation-worker", "reactivation-scheduler"})
	require.Equal(t, []string{"alerts.yml"}, prom.RuleFiles)
}

// supportedBases are the base image releases deploy/Dockerfile may use, with
// the day their support ends (docs/deploying.md, "Base images"): Alpine
// supports a release for two years, Go its two newest minor versions. A
// release past its end fails the test: move the Dockerfile to a newer one
// and add that here.
var supportedBases = map[string]string{
	"alpine:3.22": "2027-05-01",
	"alpine:3.23": "2027-11-01",
}

// TestDockerfileBaseImagesAreSupported reads the FROM lines: the runtime
// image is a supported Alpine release, the builder is the Go minor
// version of go.mod on a supported Alpine.
func TestDockerfileBaseImagesAreSupported(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	var froms []string
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.EqualFold(f[0], "FROM") {
			froms = append(froms, f[1])
		}
	}
	require.Len(t, froms, 2, "a build stage and a runtime stage")

	gomod, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	require.NotNil(t, goVersion)
	builder := regexp.MustCompile(`^golang:(\d+\.\d+)(?:\.\d+)?(?:-(alpine\d+\.\d+))?$`).FindStringSubmatch(froms[0])
	require.NotNil(t, builder, "builder %s", froms[0])
	require.Equal(t, string(goVersion[1]), builder[1], "the builder's Go is go.mod's")

	checkAlpine := func(image string) {
		end, ok := supportedBases[image]
		require.True(t, ok, "%s is not in the supported list", image)
		day, err := time.Parse(time.DateOnly, end)
		require.NoError(t, err)
		require.True(t, time.Now().Before(day), "%s is out of support since %s", image, end)
	}
	if builder[2] != "" {
		checkAlpine(strings.Replace(builder[2], "alpine", "alpine:", 1))
	}
	checkAlpine(froms[1])
}

// alertRules reads deploy/prometheus/alerts.yml.
func alertRules(t *testing.T) []alertRule {
	t.Helper()
	raw, err := os.ReadFile("prometheus/alerts.yml")
	require.NoError(t, err)
	var doc struct {
		Groups []struct {
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	var out []alertRule
	for _, g := range doc.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Annotations map[string]string `yaml:"annotations"`
}

// TestAlertsLinkTheRunbook: every alert has a runbook_url naming a heading
// of deploy/RUNBOOK.md (GitHub's anchor of "## Name" is "#name").
func TestAlertsLinkTheRunbook(t *testing.T) {
	raw, err := os.ReadFile("RUNBOOK.md")
	require.NoError(t, err)
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchors[strings.ToLower(strings.ReplaceAll(strings.TrimSpace(h), " ", "-"))] = true
		}
	}
	rules := alertRules(t)
	require.NotEmpty(t, rules)
	for _, r := range rules {
		link := r.Annotations["runbook_url"]
		path, anchor, ok := strings.Cut(link, "#")
		require.True(t, ok, "%s: runbook_url %q", r.Alert, link)
		require.Equal(t, "deploy/RUNBOOK.md", path, r.Alert)
		require.True(t, anchors[anchor], "%s: RUNBOOK.md has no heading for #%s", r.Alert, anchor)
		require.Equal(t, strings.ToLower(r.Alert), anchor, "%s links its own section", r.Alert)
	}
}

// TestDashboardIsProvisioned: the dashboard JSON parses, every panel
// queries Prometheus, and the provisioning files point at it and at the
// datasource uid its default uses.
func TestDashboardIsProvisioned(t *testing.T) {
	raw, err := os.ReadFile("grafana/dashboards/reactivation.json")
	require.NoError(t, err)
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Type    string            `json:"type"`
			Title   string            `json:"title"`
			Targets []json.RawMessage `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.Equal(t, "reactivation", dash.UID)
	var titles []string
	for _, p := range dash.Panels {
		if p.Type != "row" {
			require.NotEmpty(t, p.Targets, "panel %q", p.Title)
			titles = append(titles, p.Title)
		}
	}
	for _, want := range []string{"Request rate by route", "5xx ratio by route", "Latency p95 by route",
		"Queue size by queue and state", "Queue latency by queue", "Task outcomes by type", "Sync age",
		"Index drift", "Bulk item failures", "Search cache hit ratio", "Export rows"} {
		require.Contains(t, titles, want)
	}
	ds := yamlDocs(t, "grafana/provisioning/datasources/prometheus.yml")[0]
	require.Equal(t, "prometheus", ds["datasources"].([]any)[0].(map[string]any)["uid"])
	require.Contains(t, string(raw), `"value": "prometheus"`, "the datasource variable defaults to the provisioned uid")
	prov := yamlDocs(t, "grafana/provisioning/dashboards/reactivation.yml")[0]
	path := prov["providers"].([]any)[0].(map[string]any)["options"].(map[string]any)["path"]
	require.Equal(t, "/var/lib/grafana/dashboards", path)
	matches, err := filepath.Glob("grafana/dashboards/*.json")
	require.NoError(t, err)
	require.Len(t, matches, 1)
}
