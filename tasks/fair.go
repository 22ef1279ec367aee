package tasks

import (
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"
)

// rebuilders re-creates, from its type and payload, the first task of each
// kind of per-company job. Those tasks are held in PostgreSQL and handed to
// asynq later, in fair order across companies, by a process that never saw
// the original task: the constructor runs again, so the task gets the same
// id, queue and options it would have had.
var rebuilders = map[string]func(payload []byte) (*asynq.Task, string, error){
	TypeExport:         rebuild(NewExportTask),
	TypeSegmentSearch:  rebuild(NewSegmentSearchTask),
	TypeSyncRefresh:    rebuild(NewSyncRefreshTask),
	TypeCampaignFreeze: rebuild(NewCampaignFreezeTask),
}

// Fair reports whether tasks of typ start per-company jobs that are
// dispatched fairly across companies.
func Fair(typ string) bool {
	_, ok := rebuilders[typ]
	return ok
}

// Rebuild returns the task of a fair type from its payload, as its
// constructor builds it.
func Rebuild(typ string, payload []byte) (*asynq.Task, string, error) {
	f, ok := rebuilders[typ]
	if !ok {
		return nil, "", fmt.Errorf("task type %q is not dispatched fairly", typ)
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
