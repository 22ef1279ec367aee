// Package metrics declares the Prometheus metrics of every process, on the
// default registry served at /metrics.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	// HTTPDuration is the seed's request histogram.
	HTTPDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "Duration of HTTP requests in seconds.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route", "status_code"})

	// TaskDuration times task handlers by type and outcome.
	TaskDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "reactivation_task_duration_seconds",
		Help:    "Duration of asynq task handlers by type and outcome (succeeded, failed, retried).",
		Buckets: prometheus.ExponentialBuckets(0.01, 3, 12),
	}, []string{"type", "outcome"})

	// DocumentsIndexed counts profiles written to the search engine.
	DocumentsIndexed = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "reactivation_documents_indexed_total",
		Help: "Customer profiles written to the search engine, by sync mode.",
	}, []string{"mode"})

	// BulkItemFailures counts bulk items the engine rejected, by status.
	BulkItemFailures = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "reactivation_bulk_item_failures_total",
		Help: "Bulk index items the search engine refused, by HTTP status.",
	}, []string{"status"})

	// ExportRows counts rows written to exports.
	ExportRows = promauto.NewCounter(prometheus.CounterOpts{
		Name: "reactivation_export_rows_total",
		Help: "Rows written to export files.",
	})

	// CacheRequests counts search cache lookups by result (hit, miss).
	CacheRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "reactivation_search_cache_requests_total",
		Help: "Search cache lookups by result.",
	}, []string{"result"})

	// LastSyncTimestamp is when the last successful sync finished, by mode.
	LastSyncTimestamp = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "reactivation_last_sync_success_timestamp_seconds",
		Help: "Unix time of the last successful sync, by mode.",
	}, []string{"mode"})

	// IndexDrift is how many documents the last reconcile pass found out of
	// step with the source, by kind (missing, extra, stale). Each kind
	// starts at 0 so dashboards and alerts see the series before the first
	// pass.
	IndexDrift = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "reactivation_index_drift_documents",
		Help: "Documents out of step with the source found by the last reconcile pass, by kind.",
	}, []string{"kind"})

	// FairQueued counts per-company jobs waiting in the fair queue, by
	// company (the busiest by name, the rest as "other").
	FairQueued = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "reactivation_fair_queued_jobs",
		Help: "Per-company jobs waiting in the fair queue, by company (top companies by name, the rest as other).",
	}, []string{"company"})

	// FairInFlight counts per-company jobs admitted to the workers and not
	// finished, by company.
	FairInFlight = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "reactivation_fair_in_flight_jobs",
		Help: "Per-company jobs admitted to the workers and not finished, by company.",
	}, []string{"company"})

	// FairOldestQueued is how long the oldest waiting job of each company
	// has waited.
	FairOldestQueued = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "reactivation_fair_oldest_queued_seconds",
		Help: "Age of the oldest job waiting in the fair queue, by company.",
	}, []string{"company"})

	// FairWait times how long per-company jobs waited before admission.
	FairWait = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "reactivation_fair_wait_seconds",
		Help:    "Time per-company jobs waited in the fair queue before admission, by company.",
		Buckets: prometheus.ExponentialBuckets(0.05, 3, 10),
	}, []string{"company"})
)

// Campaign metrics.
var (
	// CampaignsCreated counts campaigns created.
	CampaignsCreated = promauto.NewCounter(prometheus.CounterOpts{
		Name: "reactivation_campaigns_created_total",
		Help: "Campaigns created.",
	})

	// CampaignEvents counts delivery events imported (new rows only), by
	// event type.
	CampaignEvents = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "reactivation_campaign_events_imported_total",
		Help: "Campaign delivery events imported, by event type; repeated rows are not counted.",
	}, []string{"event"})

	// CampaignReportDuration times campaign reports.
	CampaignReportDuration = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "reactivation_campaign_report_duration_seconds",
		Help:    "Time to compute a campaign report from the source's invoices.",
		Buckets: prometheus.ExponentialBuckets(0.005, 3, 10),
	})
)

// Drift kinds of IndexDrift.
const (
	DriftMissing = "missing"
	DriftExtra   = "extra"
	DriftStale   = "stale"
)

func init() {
	for _, k := range []string{DriftMissing, DriftExtra, DriftStale} {
		IndexDrift.WithLabelValues(k).Set(0)
	}
	for _, g := range []*prometheus.GaugeVec{FairQueued, FairInFlight, FairOldestQueued} {
		g.WithLabelValues("other").Set(0)
	}
}

// SearchTotals counts how synchronous searches got their exact total:
// "counted" by the engine (track_total_hits), or "reused" from the totals
// cache (the same filter, index version and day counted before).
var SearchTotals = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "reactivation_search_totals_total",
	Help: "Synchronous searches by how their exact total was obtained: counted by the engine or reused from the totals cache.",
}, []string{"result"})

// IDAggregationRefused counts search engines that refused the script a
// campaign's freeze gathers the audience's ids with; the freeze then reads
// them with the slower sliced scan.
var IDAggregationRefused = promauto.NewCounter(prometheus.CounterOpts{
	Name: "reactivation_id_aggregation_refused_total",
	Help: "Id collections the search engine refused the script of (the freeze fell back to a sliced scan).",
})
