package syncrun

import (
	"slices"
	"strings"

	"github.com/hibiken/asynq"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/tasks"
)

// Mode is a kind of sync. Its job type, the task that starts it and that
// task's queue come from its row of the mode table (Spec): adding a kind of
// sync is one row there and a handler for its tasks.
type Mode string

// The modes of a sync.
const (
	ModeFull        Mode = "full"
	ModeIncremental Mode = "incremental"
	// ModeRefresh re-indexes listed customers now (StartRefresh).
	ModeRefresh Mode = "refresh"
	// ModeReconcile compares every customer's fingerprint in the source
	// with the index and repairs the differences (see reconcile.go).
	ModeReconcile Mode = "reconcile"
	// ModeCatalog is the background re-enrichment of the buyers of changed
	// products (see catalog.go).
	ModeCatalog Mode = "catalog"
)

// String returns the mode's name, as the API, the CLI, sync_runs.mode and
// the metrics' mode label spell it.
func (m Mode) String() string { return string(m) }

// Spec is one row of the mode table.
type Spec struct {
	Mode Mode
	// JobType is the type of the mode's jobs; the scheduler also names its
	// ticks after it (rows of schedule_ticks: keep it stable).
	JobType string
	// TaskType is the type of the task that starts a run; the queue it
	// runs on is tasks.QueueOf(TaskType).
	TaskType string
	// Startable modes are started by Start (the API, the CLI, the
	// scheduler); the others have starters of their own.
	Startable bool
	// NeedsWatermark modes have nothing to start from before a full sync
	// completed.
	NeedsWatermark bool
	// first builds the starting task of job id (Startable modes).
	first func(id string) (*asynq.Task, string, error)
}

// Queue is the queue the mode's starting task runs on.
func (s Spec) Queue() string { return tasks.QueueOf(s.TaskType) }

// specs is the mode table.
var specs = []Spec{
	{Mode: ModeFull, JobType: jobs.TypeSyncFull, TaskType: tasks.TypeSyncPlan, Startable: true,
		first: func(id string) (*asynq.Task, string, error) {
			return tasks.NewSyncPlanTask(tasks.SyncPlanPayload{JobPayload: tasks.JobPayload{JobID: id}})
		}},
	{Mode: ModeIncremental, JobType: jobs.TypeSyncIncremental, TaskType: tasks.TypeSyncIncremental, Startable: true,
		NeedsWatermark: true, first: func(id string) (*asynq.Task, string, error) {
			return tasks.NewSyncIncrementalTask(tasks.SyncIncrementalPayload{JobPayload: tasks.JobPayload{JobID: id}})
		}},
	{Mode: ModeReconcile, JobType: jobs.TypeSyncReconcile, TaskType: tasks.TypeSyncReconcile, Startable: true,
		NeedsWatermark: true, first: func(id string) (*asynq.Task, string, error) {
			return tasks.NewSyncReconcileTask(tasks.SyncReconcilePayload{JobPayload: tasks.JobPayload{JobID: id}})
		}},
	{Mode: ModeRefresh, JobType: jobs.TypeSyncRefresh, TaskType: tasks.TypeSyncRefresh},
	{Mode: ModeCatalog, JobType: jobs.TypeSyncCatalog, TaskType: tasks.TypeSyncCatalog},
}

// SpecOf returns the row of mode m; false when m is no mode.
func SpecOf(m Mode) (Spec, bool) {
	i := slices.IndexFunc(specs, func(s Spec) bool { return s.Mode == m })
	if i < 0 {
		return Spec{}, false
	}
	return specs[i], true
}

// Modes are the modes Start accepts, in table order, for the API, the CLI
// and the scheduler (a refresh names its customers: StartRefresh).
var Modes = startable()

func startable() []string {
	var out []string
	for _, s := range specs {
		if s.Startable {
			out = append(out, s.Mode.String())
		}
	}
	return out
}

// ParseMode returns the startable mode named name; false when there is none.
func ParseMode(name string) (Mode, bool) {
	s, ok := SpecOf(Mode(name))
	return s.Mode, ok && s.Startable
}

// modeList is Modes as a sentence fragment for error messages.
func modeList() string { return strings.Join(Modes, ", ") }
