package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// TasksRequeued counts tasks the reaper re-enqueued because Redis no
// longer had them (a restart without data, a Sentinel failover that lost
// the old primary's last writes), by task type.
var TasksRequeued = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "reactivation_tasks_requeued_total",
	Help: "Tasks of unfinished jobs that vanished from Redis and were enqueued again under the same id, by type.",
}, []string{"type"})
