// Package jobs keeps the record of every asynchronous operation: a row in
// PostgreSQL that outlives Redis, plus the asynq tasks it waits on.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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

// Store reads and writes jobs. Safe for concurrent use.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a job store on the service database.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool is the database the store writes to, for callers that need a
// transaction across a job and their own tables.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

const jobColumns = `id, coalesce(company_id, ''), type, state, progress_done, progress_total, params, result,
	coalesce(error, ''), coalesce(created_by, ''), created_at, updated_at, started_at, finished_at`

func scanJob(row pgx.Row) (Job, error) {
	var j Job
	var params, result []byte
	err := row.Scan(&j.ID, &j.CompanyID, &j.Type, &j.State, &j.Progress.Done, &j.Progress.Total, &params, &result,
		&j.Error, &j.CreatedBy, &j.CreatedAt, &j.UpdatedAt, &j.StartedAt, &j.FinishedAt)
	if err != nil {
		return j, err
	}
	j.Params = params
	if result != nil {
		j.Result = result
	}
	return j, nil
}

// Create inserts a queued job inside tx.
func Create(ctx context.Context, tx pgx.Tx, n New) (Job, error) {
	params, err := json.Marshal(n.Params)
	if err != nil {
		return Job{}, fmt.Errorf("job params: %w", err)
	}
	if n.Params == nil {
		params = []byte("{}")
	}
	return scanJob(tx.QueryRow(ctx, `INSERT INTO jobs (id, company_id, type, state, params, created_by)
		VALUES ($1, NULLIF($2, ''), $3, 'queued', $4, NULLIF($5, '')) RETURNING `+jobColumns,
		uuid.NewString(), n.CompanyID, n.Type, params, n.CreatedBy))
}

// Get returns the job id if the tenant may see it; NotFound otherwise, so a
// company never learns that another company's job exists.
func (s *Store) Get(ctx context.Context, t Tenant, id string) (Job, error) {
	if uuid.Validate(id) != nil {
		return Job{}, NotFound(id)
	}
	j, err := scanJob(s.pool.QueryRow(ctx, "SELECT "+jobColumns+" FROM jobs WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !t.Sees(j.CompanyID)) {
		return Job{}, errs.E(errs.NotFound, "job %s not found", id)
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
	rows, err := s.pool.Query(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE ($1 OR company_id = $2) AND ($3 = '' OR type = $3) AND ($4 = '' OR state = $4)
		  AND ($5 = '' OR (created_at, id) < (SELECT created_at, id FROM jobs WHERE id = $5))
		ORDER BY created_at DESC, id DESC LIMIT $6`,
		t.Admin, t.CompanyID, o.Type, string(o.State), o.After, o.Limit)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// Start marks a queued job running. Running or final jobs are left alone;
// it returns the job as it now is.
func (s *Store) Start(ctx context.Context, id string) (Job, error) {
	_, err := s.pool.Exec(ctx, `UPDATE jobs SET state = 'running', started_at = coalesce(started_at, now()), updated_at = now()
		WHERE id = $1 AND state = 'queued'`, id)
	if err != nil {
		return Job{}, fmt.Errorf("start job: %w", err)
	}
	return s.GetAny(ctx, id)
}

// SetProgress records progress of a running job.
func (s *Store) SetProgress(ctx context.Context, id string, p Progress) error {
	_, err := s.pool.Exec(ctx, `UPDATE jobs SET progress_done = $2, progress_total = $3, updated_at = now()
		WHERE id = $1 AND state IN ('queued', 'running')`, id, p.Done, p.Total)
	return err
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
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET state = $2, result = coalesce($3, result), error = NULLIF($4, ''),
		finished_at = now(), updated_at = now(), started_at = coalesce(started_at, now()),
		progress_done = CASE WHEN $2 = 'succeeded' THEN greatest(progress_done, progress_total) ELSE progress_done END
		WHERE id = $1 AND state IN ('queued', 'running')`, id, string(state), result, reason)
	if err != nil {
		return false, fmt.Errorf("finish job %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		_, err := s.GetAny(ctx, id)
		return false, err
	}
	_, err = s.pool.Exec(ctx, "UPDATE job_tasks SET done = true WHERE job_id = $1", id)
	return true, err
}

// State returns the job's current state, for handlers that check for
// cancellation between pages.
func (s *Store) State(ctx context.Context, id string) (State, error) {
	if uuid.Validate(id) != nil {
		return "", NotFound(id)
	}
	var st State
	err := s.pool.QueryRow(ctx, "SELECT state FROM jobs WHERE id = $1", id).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errs.E(errs.NotFound, "job %s not found", id)
	}
	return st, err
}

// IsNotFound reports whether err says a job does not exist.
func IsNotFound(err error) bool { return errs.Is(err, errs.NotFound) }

// NotFound is the error for a job that does not exist or is not the
// caller's to see.
func NotFound(id string) error { return errs.E(errs.NotFound, "job %s not found", id) }
