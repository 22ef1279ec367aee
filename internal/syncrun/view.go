package syncrun

import (
	"context"
	"fmt"
	"time"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
)

// Run is the status view of a sync run.
type Run struct {
	Job         jobs.Job   `json:"job"`
	Mode        string     `json:"mode"`
	Generation  string     `json:"generation,omitempty"`
	ShardsDone  int        `json:"shardsDone"`
	ShardsTotal int        `json:"shardsTotal"`
	Documents   int64      `json:"documentsIndexed"`
	Watermark   *time.Time `json:"watermark,omitempty"`
	Durations   Durations  `json:"durations"`
}

// Durations splits a run's time into its phases, in seconds; a phase not
// reached yet is absent.
type Durations struct {
	Queued *float64 `json:"queuedSeconds,omitempty"`
	Plan   *float64 `json:"planSeconds,omitempty"`
	Index  *float64 `json:"indexSeconds,omitempty"`
	Swap   *float64 `json:"swapSeconds,omitempty"`
	Total  *float64 `json:"totalSeconds,omitempty"`
}

// Get returns the run of job id, if the tenant may see the job.
func (s *Service) Get(ctx context.Context, t jobs.Tenant, id string) (Run, error) {
	job, err := s.jobs.Get(ctx, t, id)
	if err != nil {
		return Run{}, err
	}
	st, err := s.runs.RunStatus(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return Run{}, jobs.NotFound(id) // a job, but not a sync's
	}
	if err != nil {
		return Run{}, fmt.Errorf("sync run %s: %w", id, err)
	}
	r := Run{Job: job, Mode: st.Mode, Generation: st.Generation, ShardsDone: st.ShardsDone, ShardsTotal: st.ShardsTotal,
		Documents: st.Documents, Watermark: st.Watermark}
	planned, indexed, promoted := st.Planned, st.Indexed, st.Promoted
	span := func(a, b *time.Time) *float64 {
		if a == nil || b == nil {
			return nil
		}
		d := b.Sub(*a).Seconds()
		return &d
	}
	created := job.CreatedAt
	r.Durations = Durations{
		Queued: span(&created, job.StartedAt),
		Plan:   span(job.StartedAt, planned),
		Index:  span(planned, indexed),
		Swap:   span(indexed, promoted),
		Total:  span(job.StartedAt, job.FinishedAt),
	}
	return r, nil
}

// LastSyncAt is when the last full or incremental sync of the alias
// completed, nil before the first.
func (s *Service) LastSyncAt(ctx context.Context) (*time.Time, error) {
	return s.runs.LastSyncAt(ctx, s.cfg.Alias)
}
