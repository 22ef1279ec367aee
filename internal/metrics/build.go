package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/reactivation/reactivation/internal/buildinfo"
)

// BuildInfo is 1, labelled with what binary is running (module version,
// VCS revision, Go version), on /metrics of every process, so dashboards
// and alerts can tell versions apart during a rollout.
var BuildInfo = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Name: "reactivation_build_info",
	Help: "Always 1; the labels say which build is running.",
}, []string{"version", "revision", "goversion"})

// BulkStatusesWatched are the bulk item statuses whose series exist from
// the start (at 0), so increase() over them sees the first failure: 400
// (a document the engine refuses) and 429 (back-pressure).
var BulkStatusesWatched = []string{"400", "429"}

func init() {
	info := buildinfo.Read()
	BuildInfo.WithLabelValues(info.Version, info.Revision, info.GoVersion).Set(1)
	for _, s := range BulkStatusesWatched {
		BulkItemFailures.WithLabelValues(s).Add(0)
	}
}
