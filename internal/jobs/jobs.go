// Package jobs keeps the record of every asynchronous operation: a row in
// PostgreSQL that outlives Redis, plus the asynq tasks it waits on.
package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/reactivation/reactivation/internal/errs"
)

// State is where a job is in its life.
type State string

// States. Succeeded, failed and canceled are final.
const (
	Queued    State = "queued"
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Canceled  State = "canceled"
)

// Final reports whether s is a final state.
func (s State) Final() bool { return s == Succeeded || s == Failed || s == Canceled }

// Types lists every job type.
var Types = []string{TypeSyncFull, TypeSyncIncremental, TypeSyncRefresh, TypeSegmentSearch, TypeExport, TypeCampaignFreeze, TypeSyncReconcile, TypeSyncCatalog}

// Job types.
const (
	TypeSyncFull        = "sync.full"
	TypeSyncIncremental = "sync.incremental"
	TypeSyncRefresh     = "sync.refresh"
	TypeSegmentSearch   = "segment.search"
	TypeExport          = "export"
	TypeCampaignFreeze  = "campaign.freeze"
	TypeSyncReconcile   = "sync.reconcile"
	// TypeSyncCatalog re-enriches, in the background, the buyers of
	// products whose name, ingredients or recipe changed.
	TypeSyncCatalog = "sync.catalog"
)

// Job is the polling view of an asynchronous operation.
type Job struct {
	ID        string          `json:"id"`
	CompanyID string          `json:"companyId,omitempty"`
	Type      string          `json:"type"`
	State     State           `json:"state"`
	Progress  Progress        `json:"progress"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     string          `json:"error,omitempty"`
	CreatedBy string          `json:"-"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
	StartedAt *time.Time      `json:"startedAt,omitempty"`
	// FinishedAt is set once the job reaches a final state.
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// Progress counts done units (shards, rows) out of a total.
type Progress struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// Tenant limits what a caller sees: a company, or everything for admins.
type Tenant struct {
	CompanyID string
	Admin     bool
}

// Sees reports whether the tenant may see a job of companyID.
func (t Tenant) Sees(companyID string) bool {
	return t.Admin || (t.CompanyID != "" && t.CompanyID == companyID)
}

// New describes a job to create.
type New struct {
	CompanyID string
	Type      string
	Params    any
	CreatedBy string
}

// Store reads and writes jobs kept by a Repository. Safe for concurrent
// use.
type Store struct{ repo Repository }

// NewStore returns a job store over repo.
func NewStore(repo Repository) *Store { return &Store{repo: repo} }

// InTx runs f in one transaction of the job repository: the job calls made
// with the context f gets, and those of other repositories on the same
// database, commit together.
func (s *Store) InTx(ctx context.Context, f func(ctx context.Context) error) error {
	return s.repo.InTx(ctx, f)
}

// Create inserts a queued job (inside the transaction of ctx, if any).
func (s *Store) Create(ctx context.Context, n New) (Job, error) {
	params, err := json.Marshal(n.Params)
	if err != nil {
		return Job{}, fmt.Errorf("job params: %w", err)
	}
	if n.Params == nil {
		params = []byte("{}")
	}
	j, err := s.repo.CreateJob(ctx, n, params)
	if err != nil {
		return Job{}, fmt.Errorf("create job: %w", err)
	}
	return j, nil
}

// Get returns the job id if the tenant may see it; NotFound otherwise, so a
// company never learns that another company's job exists.
func (s *Store) Get(ctx context.Context, t Tenant, id string) (Job, error) {
	if uuid.Validate(id) != nil {
		return Job{}, NotFound(id)
	}
	j, err := s.repo.Job(ctx, id)
	if errs.Is(err, errs.NotFound) || (err == nil && !t.Sees(j.CompanyID)) {
		return Job{}, NotFound(id)
	}
	if err != nil {
		return Job{}, fmt.Errorf("get job: %w", err)
	}
	return j, nil
}

// GetAny returns a job regardless of tenant, for workers.
func (s *Store) GetAny(ctx context.Context, id string) (Job, error) {
	return s.Get(ctx, Tenant{Admin: true}, id)
}

// ListOptions filters and pages List.
type ListOptions struct {
	Type  string
	State State
	Limit int
	// After is the last id of the previous page.
	After string
}

// List returns the tenant's jobs, newest first.
func (s *Store) List(ctx context.Context, t Tenant, o ListOptions) ([]Job, error) {
	if o.Limit <= 0 || o.Limit > 100 {
		o.Limit = 50
	}
	if o.After != "" && uuid.Validate(o.After) != nil {
		return nil, errs.E(errs.Invalid, "cursor is not one this API returned")
	}
	out, err := s.repo.ListJobs(ctx, t, o)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return out, nil
}

// Start marks a queued job running. Running or final jobs are left alone;
// it returns the job as it now is.
func (s *Store) Start(ctx context.Context, id string) (Job, error) {
	if err := s.repo.MarkRunning(ctx, id); err != nil {
		return Job{}, fmt.Errorf("start job: %w", err)
	}
	return s.GetAny(ctx, id)
}

// SetProgress records progress of a running job.
func (s *Store) SetProgress(ctx context.Context, id string, p Progress) error {
	return s.repo.SetProgress(ctx, id, p)
}

// Succeed finishes a job with result. It returns false when the job was
// already final (canceled, or finished by a concurrent run).
func (s *Store) Succeed(ctx context.Context, id string, result any) (bool, error) {
	b, err := json.Marshal(result)
	if err != nil {
		return false, fmt.Errorf("job result: %w", err)
	}
	return s.finish(ctx, id, Succeeded, b, "")
}

// Fail finishes a job with a reason.
func (s *Store) Fail(ctx context.Context, id, reason string) (bool, error) {
	return s.finish(ctx, id, Failed, nil, reason)
}

// Cancel finishes a job as canceled, if it is not final yet.
func (s *Store) Cancel(ctx context.Context, id, reason string) (bool, error) {
	return s.finish(ctx, id, Canceled, nil, reason)
}

func (s *Store) finish(ctx context.Context, id string, state State, result []byte, reason string) (bool, error) {
	ok, err := s.repo.Finish(ctx, id, state, result, reason)
	if err != nil {
		return false, fmt.Errorf("finish job %s: %w", id, err)
	}
	if !ok {
		_, err := s.GetAny(ctx, id)
		return false, err
	}
	return true, nil
}

// CancelActive cancels every job not final yet, for a benchmark that
// starts from a clean slate, and reports how many it canceled. Their tasks
// are left to the reaper.
func (s *Store) CancelActive(ctx context.Context) (int64, error) {
	n, err := s.repo.CancelActive(ctx)
	if err != nil {
		return 0, fmt.Errorf("cancel active jobs: %w", err)
	}
	return n, nil
}

// State returns the job's current state, for handlers that check for
// cancellation between pages.
func (s *Store) State(ctx context.Context, id string) (State, error) {
	if uuid.Validate(id) != nil {
		return "", NotFound(id)
	}
	st, err := s.repo.JobState(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return "", NotFound(id)
	}
	return st, err
}

// AlreadyRunning is why a job was not created: a job of its type, of
// which one runs at a time (the syncs), is queued or running. The
// repository returns it inside an errs.Conflict.
type AlreadyRunning struct {
	Type string
	// JobID is the job in the way ("" when it finished meanwhile).
	JobID string
}

func (e *AlreadyRunning) Error() string {
	return fmt.Sprintf("a %s job is already running: job %s", e.Type, e.JobID)
}

// IsNotFound reports whether err says a job does not exist.
func IsNotFound(err error) bool { return errs.Is(err, errs.NotFound) }

// NotFound is the error for a job that does not exist or is not the
// caller's to see.
func NotFound(id string) error { return errs.E(errs.NotFound, "job %s not found", id) }
