package tasks

import (
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"
)

// rebuilders re-creates, from its type and payload, every task that
// belongs to a job. The job_tasks row of each such task keeps its type and
// payload, so a process that never saw the original task can make it
// again: the fair-queue admitter hands held tasks to asynq with it, and
// the reaper re-enqueues a task Redis lost. The constructor runs again, so
// the task gets the same id, queue and options it had.
var rebuilders = map[string]func(payload []byte) (*asynq.Task, string, error){
	TypeExport:             rebuild(NewExportTask),
	TypeSegmentSearch:      rebuild(NewSegmentSearchTask),
	TypeSyncRefresh:        rebuild(NewSyncRefreshTask),
	TypeCampaignFreeze:     rebuild(NewCampaignFreezeTask),
	TypeSyncPlan:           rebuild(NewSyncPlanTask),
	TypeSyncShard:          rebuild(NewSyncShardTask),
	TypeSyncFinalize:       rebuild(NewSyncFinalizeTask),
	TypeSyncIncremental:    rebuild(NewSyncIncrementalTask),
	TypeSyncCatalog:        rebuild(NewSyncCatalogTask),
	TypeSyncReconcile:      rebuild(NewSyncReconcileTask),
	TypeSyncReconcileShard: rebuild(NewSyncReconcileShardTask),
	TypeScoresFit:          rebuild(NewScoresFitTask),
}

// Rebuild returns the task of a job from its type and payload, as its
// constructor builds it: same id, queue, retries and timeout. A type that
// belongs to no job (maintenance ticks) is an error.
func Rebuild(typ string, payload []byte) (*asynq.Task, string, error) {
	f, ok := rebuilders[typ]
	if !ok {
		return nil, "", fmt.Errorf("task type %q cannot be rebuilt", typ)
	}
	return f(payload)
}

func rebuild[P any](newTask func(P) (*asynq.Task, string, error)) func([]byte) (*asynq.Task, string, error) {
	return func(payload []byte) (*asynq.Task, string, error) {
		var p P
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, "", fmt.Errorf("rebuild task: %w", err)
		}
		return newTask(p)
	}
}
