package app

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// WorkerGCPercent is the worker's garbage-collection target when the
// environment sets no GOGC. A sync's shards allocate every profile, row
// and document they write, and at Go's default of 100 the collector and
// its preemptions took about a fifth of the worker's CPU. Measured on the
// 800k PostgreSQL-engine bench (docs/deploying.md, "The worker's
// collector"): the sync's worker CPU 33.5 s at 100, 30.5 s at 200, 27.9 s
// at 400; an export's peak RSS 74, 99 and 186 MB, against the export's
// bound of 150 MB. 200 keeps that bound.
const WorkerGCPercent = 200

// memoryShare is the part of a cgroup's memory limit the worker's heap
// may grow to before the collector runs regardless of WorkerGCPercent.
const memoryShare = 0.8

// cgroupMemoryMax is where a cgroup v2 container reads its memory limit.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// gcSettings is the collector's target and soft memory limit for a worker
// given its environment and its cgroup's memory.max ("max", empty or
// unreadable when unlimited): GOGC and GOMEMLIMIT when set (the runtime
// applied them already, and they are left as they are: percent -1, limit
// 0), else WorkerGCPercent and memoryShare of the cgroup's limit.
func gcSettings(getenv func(string) string, memoryMax string) (percent int, limit int64) {
	percent, limit = -1, 0
	if getenv("GOGC") == "" {
		percent = WorkerGCPercent
	}
	if getenv("GOMEMLIMIT") == "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(memoryMax), 10, 64); err == nil && n > 0 {
			limit = int64(float64(n) * memoryShare)
		}
	}
	return percent, limit
}

// TuneWorkerGC applies gcSettings to this process and logs the settings
// the runtime then holds (from the environment or from gcSettings).
func TuneWorkerGC(log *zap.Logger) {
	memoryMax, _ := os.ReadFile(cgroupMemoryMax)
	percent, limit := gcSettings(os.Getenv, string(memoryMax))
	if percent >= 0 {
		debug.SetGCPercent(percent)
	}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	held := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(held)
	log.Info("garbage collector", zap.Uint64("gc_percent", held[0].Value.Uint64()), zap.Uint64("memory_limit_bytes", held[1].Value.Uint64()))
}
