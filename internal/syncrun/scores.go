package syncrun

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/scores"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/tasks"
)

// afterPlan follows a planned run: with scores enabled, the scores task
// (unless the generation's scores are already stored), which enqueues the
// shards; without, the shards.
func (s *Service) afterPlan(ctx context.Context, jobID, gen string) error {
	if !s.cfg.Scores {
		return s.enqueueShards(ctx, jobID, gen)
	}
	if ok, err := s.scores.Has(ctx, gen); err != nil {
		return fmt.Errorf("plan: %w", err)
	} else if ok {
		return s.enqueueShards(ctx, jobID, gen)
	}
	task, id, err := tasks.NewScoresFitTask(tasks.ScoresFitPayload{JobPayload: tasks.JobPayload{JobID: jobID}, Generation: gen})
	if err != nil {
		return err
	}
	return s.dispatcher.Follow(ctx, jobID, task, id)
}

// FitScores computes the scores of a run's generation as of the run's
// watermark (the source clock at plan), stores them with the generation
// and enqueues the shards, which score every customer with them.
// Re-running it recomputes and replaces them.
func (s *Service) FitScores(ctx context.Context, p tasks.ScoresFitPayload) error {
	run, err := s.runs.RunStatus(ctx, p.JobID)
	if err != nil {
		return fmt.Errorf("scores %s: %w", p.JobID, err)
	}
	if run.Watermark == nil {
		return fmt.Errorf("scores %s: the run has no watermark: not planned", p.JobID)
	}
	asOf := *run.Watermark
	start := time.Now()
	models, err := scores.Compute(ctx, s.source, asOf, s.cfg.Location, s.cfg.Fit)
	if err != nil {
		return err
	}
	if err := s.scores.Save(ctx, p.Generation, models); err != nil {
		return err
	}
	for _, m := range models {
		if m.Params == nil {
			s.log.Info("scores without BG/NBD model", zap.String("job_id", p.JobID), zap.String("company_id", m.CompanyID), zap.String("reason", m.Fallback))
		}
	}
	s.log.Info("scores computed", zap.String("job_id", p.JobID), zap.String("generation", p.Generation),
		zap.Int("companies", len(models)), zap.Duration("took", time.Since(start)))
	return s.enqueueShards(ctx, p.JobID, p.Generation)
}

// scoreSet returns the stored scores of generation gen (nil with scores
// disabled or none stored), cached: a generation's scores never change
// once its shards run.
func (s *Service) scoreSet(ctx context.Context, gen string) (*scores.Set, error) {
	if !s.cfg.Scores {
		return nil, nil
	}
	s.scoresMu.Lock()
	defer s.scoresMu.Unlock()
	if set, ok := s.scoreSets[gen]; ok {
		return set, nil
	}
	set, err := s.scores.Load(ctx, gen, s.cfg.Location)
	if err != nil {
		return nil, err
	}
	if len(set.Models) == 0 {
		return nil, nil // not cached: a generation whose scores are still to come
	}
	if len(s.scoreSets) >= 4 {
		clear(s.scoreSets)
	}
	s.scoreSets[gen] = set
	return set, nil
}

// shardScorer returns the function that scores a shard's profiles with
// its generation's scores, as of their computation.
func (s *Service) shardScorer(ctx context.Context, gen string) (func(*profile.Profile), error) {
	set, err := s.scoreSet(ctx, gen)
	if err != nil || set == nil {
		return func(*profile.Profile) {}, err
	}
	asOf := set.AsOf()
	return func(p *profile.Profile) { set.Apply(p, asOf) }, nil
}

// upsertScorer returns the function that scores profiles written into the
// serving generation gen: its thresholds and parameters, each customer's
// own purchases as of the source clock now.
func (s *Service) upsertScorer(ctx context.Context, gen string) (func(*profile.Profile), error) {
	set, err := s.scoreSet(ctx, gen)
	if err != nil || set == nil {
		return func(*profile.Profile) {}, err
	}
	now, err := source.Now(ctx, s.source)
	if err != nil {
		return nil, err
	}
	return func(p *profile.Profile) { set.Apply(p, now) }, nil
}

// scoresResult is what a full sync's result says of its scores: per
// company, the customers scored, whether the BG/NBD model fitted (and why
// not) and how long the fit took.
func (s *Service) scoresResult(ctx context.Context, gen string) any {
	set, err := s.scoreSet(ctx, gen)
	if err != nil || set == nil {
		return nil
	}
	type company struct {
		CompanyID  string  `json:"companyId"`
		Customers  int64   `json:"customers"`
		Fitted     bool    `json:"fitted"`
		Fallback   string  `json:"fallback,omitempty"`
		FitSeconds float64 `json:"fitSeconds"`
	}
	out := []company{}
	for _, m := range set.Models {
		out = append(out, company{m.CompanyID, m.Customers, m.Params != nil, m.Fallback, m.FitSeconds})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CompanyID < out[j].CompanyID })
	return out
}
