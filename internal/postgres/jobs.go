package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
)

// Jobs keeps the jobs and job_tasks tables (jobs.Repository): the job
// rows, the task records the reaper checks and the held tasks of the fair
// queue. Safe for concurrent use.
type Jobs struct{ db *pgxpool.Pool }

var _ jobs.Repository = (*Jobs)(nil)

// NewJobs returns the job repository of the service database.
func NewJobs(db *pgxpool.Pool) *Jobs { return &Jobs{db: db} }

// InTx implements jobs.Repository.
func (r *Jobs) InTx(ctx context.Context, f func(ctx context.Context) error) error {
	return inTx(ctx, r.db, f)
}

const jobColumns = `id, coalesce(company_id, ''), type, state, progress_done, progress_total, params, result,
	coalesce(error, ''), coalesce(created_by, ''), created_at, updated_at, started_at, finished_at`

func scanJob(row pgx.Row) (jobs.Job, error) {
	var j jobs.Job
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

func jobNotFound(id string) error { return errs.E(errs.NotFound, "job %s not found", id) }

// CreateJob implements jobs.Repository.
func (r *Jobs) CreateJob(ctx context.Context, n jobs.New, params []byte) (jobs.Job, error) {
	j, err := scanJob(conn(ctx, r.db).QueryRow(ctx, `INSERT INTO jobs (id, company_id, type, state, params, created_by)
		VALUES ($1, NULLIF($2, ''), $3, 'queued', $4, NULLIF($5, '')) RETURNING `+jobColumns,
		uuid.NewString(), n.CompanyID, n.Type, params, n.CreatedBy))
	if err != nil {
		return jobs.Job{}, r.createError(ctx, err, n.Type)
	}
	return j, nil
}

// createError says what a unique violation on a new job means: its kind of
// sync is already running (the jobs_one_running_sync index).
func (r *Jobs) createError(ctx context.Context, err error, typ string) error {
	if constraintOf(err) != "jobs_one_running_sync" {
		return translate(err, "insert job")
	}
	running := &jobs.AlreadyRunning{Type: typ}
	// Outside the failed transaction: the pool, not conn(ctx).
	_ = r.db.QueryRow(ctx, "SELECT id FROM jobs WHERE type = $1 AND state IN ('queued', 'running') LIMIT 1", typ).Scan(&running.JobID)
	return &errs.Error{Code: errs.Conflict, Message: running.Error(),
		Detail: map[string]any{"runningJobId": running.JobID}, Err: running}
}

// Job implements jobs.Repository.
func (r *Jobs) Job(ctx context.Context, id string) (jobs.Job, error) {
	j, err := scanJob(conn(ctx, r.db).QueryRow(ctx, "SELECT "+jobColumns+" FROM jobs WHERE id = $1", id))
	return j, notFound(err, "read job", jobNotFound(id))
}

// ListJobs implements jobs.Repository.
func (r *Jobs) ListJobs(ctx context.Context, t jobs.Tenant, o jobs.ListOptions) ([]jobs.Job, error) {
	rows, err := conn(ctx, r.db).Query(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE ($1 OR company_id = $2) AND ($3 = '' OR type = $3) AND ($4 = '' OR state = $4)
		  AND ($5 = '' OR (created_at, id) < (SELECT created_at, id FROM jobs WHERE id = $5))
		ORDER BY created_at DESC, id DESC LIMIT $6`,
		t.Admin, t.CompanyID, o.Type, string(o.State), o.After, o.Limit)
	if err != nil {
		return nil, translate(err, "list jobs")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (jobs.Job, error) { return scanJob(row) })
	return out, translate(err, "list jobs")
}

// JobState implements jobs.Repository.
func (r *Jobs) JobState(ctx context.Context, id string) (jobs.State, error) {
	var st jobs.State
	err := conn(ctx, r.db).QueryRow(ctx, "SELECT state FROM jobs WHERE id = $1", id).Scan(&st)
	return st, notFound(err, "read job state", jobNotFound(id))
}

// MarkRunning implements jobs.Repository.
func (r *Jobs) MarkRunning(ctx context.Context, id string) error {
	_, err := conn(ctx, r.db).Exec(ctx, `UPDATE jobs SET state = 'running', started_at = coalesce(started_at, now()), updated_at = now()
		WHERE id = $1 AND state = 'queued'`, id)
	return translate(err, "start job")
}

// SetProgress implements jobs.Repository.
func (r *Jobs) SetProgress(ctx context.Context, id string, p jobs.Progress) error {
	_, err := conn(ctx, r.db).Exec(ctx, `UPDATE jobs SET progress_done = $2, progress_total = $3, updated_at = now()
		WHERE id = $1 AND state IN ('queued', 'running')`, id, p.Done, p.Total)
	return translate(err, "job progress")
}

// Finish implements jobs.Repository.
func (r *Jobs) Finish(ctx context.Context, id string, state jobs.State, result []byte, reason string) (bool, error) {
	var ok bool
	err := inTx(ctx, r.db, func(ctx context.Context) error {
		tag, err := conn(ctx, r.db).Exec(ctx, `UPDATE jobs SET state = $2, result = coalesce($3, result), error = NULLIF($4, ''),
			finished_at = now(), updated_at = now(), started_at = coalesce(started_at, now()),
			progress_done = CASE WHEN $2 = 'succeeded' THEN greatest(progress_done, progress_total) ELSE progress_done END
			WHERE id = $1 AND state IN ('queued', 'running')`, id, string(state), result, reason)
		if err != nil {
			return translate(err, "finish job")
		}
		if ok = tag.RowsAffected() > 0; !ok {
			return nil
		}
		return r.allTasksDone(ctx, id)
	})
	return ok, err
}

func (r *Jobs) allTasksDone(ctx context.Context, jobID string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "UPDATE job_tasks SET done = true WHERE job_id = $1", jobID)
	return translate(err, "finish job tasks")
}

// CancelActive implements jobs.Repository.
func (r *Jobs) CancelActive(ctx context.Context) (int64, error) {
	tag, err := conn(ctx, r.db).Exec(ctx, "UPDATE jobs SET state = 'canceled', finished_at = now() WHERE state IN ('queued', 'running')")
	if err != nil {
		return 0, translate(err, "cancel active jobs")
	}
	return tag.RowsAffected(), nil
}

// RecordTask implements jobs.Repository.
func (r *Jobs) RecordTask(ctx context.Context, jobID string, t jobs.TaskRecord) error {
	_, err := conn(ctx, r.db).Exec(ctx, `INSERT INTO job_tasks (task_id, job_id, queue, type, payload) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (task_id) DO NOTHING`, t.ID, jobID, t.Queue, t.Type, t.Payload)
	return translate(err, "record task")
}

// HoldTask implements jobs.Repository.
func (r *Jobs) HoldTask(ctx context.Context, jobID string, t jobs.TaskRecord) error {
	_, err := conn(ctx, r.db).Exec(ctx, `INSERT INTO job_tasks (task_id, job_id, queue, type, payload, held) VALUES ($1, $2, $3, $4, $5, true)
		ON CONFLICT (task_id) DO NOTHING`, t.ID, jobID, t.Queue, t.Type, t.Payload)
	return translate(err, "hold task")
}

// TaskAdmitted implements jobs.Repository.
func (r *Jobs) TaskAdmitted(ctx context.Context, taskID string) (bool, error) {
	var admitted bool
	err := conn(ctx, r.db).QueryRow(ctx, "SELECT admitted_at IS NOT NULL FROM job_tasks WHERE task_id = $1", taskID).Scan(&admitted)
	return admitted, notFound(err, "read task", errs.E(errs.NotFound, "task %s not recorded", taskID))
}

// TaskDone implements jobs.Repository.
func (r *Jobs) TaskDone(ctx context.Context, taskID string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "UPDATE job_tasks SET done = true WHERE task_id = $1", taskID)
	return translate(err, "task done")
}

// Tasks implements jobs.Repository.
func (r *Jobs) Tasks(ctx context.Context, jobID string) ([]jobs.TaskRecord, error) {
	rows, err := conn(ctx, r.db).Query(ctx, "SELECT task_id, queue, type, payload FROM job_tasks WHERE job_id = $1", jobID)
	if err != nil {
		return nil, translate(err, "job tasks")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (jobs.TaskRecord, error) {
		var t jobs.TaskRecord
		err := row.Scan(&t.ID, &t.Queue, &t.Type, &t.Payload)
		return t, err
	})
	return out, translate(err, "job tasks")
}

// fairLock is the advisory lock key every admitter takes.
const fairLock = 0x7265616374 // "react"

// LockAdmission implements jobs.Repository with a transaction-scoped
// advisory lock; outside a transaction it would be released at once, so
// it is refused there.
func (r *Jobs) LockAdmission(ctx context.Context) error {
	if _, ok := ctx.Value(txKey{}).(pgx.Tx); !ok {
		return errs.E(errs.Internal, "the admission lock needs a transaction")
	}
	_, err := conn(ctx, r.db).Exec(ctx, "SELECT pg_advisory_xact_lock($1)", fairLock)
	return translate(err, "admission lock")
}

// AdmittedInFlight implements jobs.Repository.
func (r *Jobs) AdmittedInFlight(ctx context.Context) (map[string]int, error) {
	rows, err := conn(ctx, r.db).Query(ctx, `SELECT coalesce(j.company_id, ''), count(*)
		FROM job_tasks t JOIN jobs j ON j.id = t.job_id
		WHERE t.held AND t.admitted_at IS NOT NULL AND j.state IN ('queued', 'running')
		GROUP BY 1`)
	if err != nil {
		return nil, translate(err, "fair queue in flight")
	}
	out := map[string]int{}
	var c string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&c, &n}, func() error { out[c] = n; return nil })
	return out, translate(err, "fair queue in flight")
}

// HeldHeads implements jobs.Repository.
func (r *Jobs) HeldHeads(ctx context.Context, n int) ([]jobs.HeldTask, error) {
	rows, err := conn(ctx, r.db).Query(ctx, `SELECT task_id, job_id, company_id, type, payload, created_at, rn FROM (
			SELECT t.task_id, t.job_id, coalesce(j.company_id, '') AS company_id, t.type, t.payload, j.created_at,
			       row_number() OVER (PARTITION BY j.company_id ORDER BY j.created_at, j.id) AS rn
			FROM job_tasks t JOIN jobs j ON j.id = t.job_id
			WHERE t.held AND t.admitted_at IS NULL AND NOT t.done AND j.state = 'queued') q
		WHERE rn <= $1 ORDER BY rn, created_at, job_id`, n)
	if err != nil {
		return nil, translate(err, "fair queue held tasks")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (jobs.HeldTask, error) {
		var h jobs.HeldTask
		err := row.Scan(&h.TaskID, &h.JobID, &h.Company, &h.Type, &h.Payload, &h.CreatedAt, &h.Rank)
		return h, err
	})
	return out, translate(err, "fair queue held tasks")
}

// MarkAdmitted implements jobs.Repository.
func (r *Jobs) MarkAdmitted(ctx context.Context, taskID string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "UPDATE job_tasks SET admitted_at = now() WHERE task_id = $1", taskID)
	return translate(err, "admit task")
}

// FairPosition implements jobs.Repository: the fair order of the admitter
// (its company's in-flight count plus its rank, then age) in one query.
func (r *Jobs) FairPosition(ctx context.Context, jobID string) (int, int, bool, error) {
	var pos, ahead int
	err := conn(ctx, r.db).QueryRow(ctx, `
		WITH inflight AS (
			SELECT coalesce(j.company_id, '') AS company_id, count(*) AS n
			FROM job_tasks t JOIN jobs j ON j.id = t.job_id
			WHERE t.held AND t.admitted_at IS NOT NULL AND j.state IN ('queued', 'running') GROUP BY 1),
		held AS (
			SELECT j.id, coalesce(j.company_id, '') AS company_id, j.created_at,
			       row_number() OVER (PARTITION BY j.company_id ORDER BY j.created_at, j.id) AS rn
			FROM job_tasks t JOIN jobs j ON j.id = t.job_id
			WHERE t.held AND t.admitted_at IS NULL AND NOT t.done AND j.state = 'queued'),
		keyed AS (
			SELECT h.*, h.rn + coalesce(i.n, 0) AS k FROM held h LEFT JOIN inflight i USING (company_id))
		SELECT me.rn, (SELECT count(*) FROM keyed o WHERE (o.k, o.created_at, o.id) < (me.k, me.created_at, me.id))
		FROM keyed me WHERE me.id = $1`, jobID).Scan(&pos, &ahead)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, translate(err, "fair queue position")
	}
	return pos, ahead, true, nil
}

// RecentDuration implements jobs.Repository over the last 50 succeeded
// jobs of the type.
func (r *Jobs) RecentDuration(ctx context.Context, typ string) (time.Duration, bool, error) {
	var avg *float64
	err := conn(ctx, r.db).QueryRow(ctx, `SELECT avg(extract(epoch FROM finished_at - started_at)) FROM (
			SELECT finished_at, started_at FROM jobs WHERE type = $1 AND state = 'succeeded' AND started_at IS NOT NULL
			ORDER BY finished_at DESC LIMIT 50) r`, typ).Scan(&avg)
	if err != nil || avg == nil {
		return 0, false, translate(err, "recent job duration")
	}
	return time.Duration(*avg * float64(time.Second)), true, nil
}

// FairLoads implements jobs.Repository.
func (r *Jobs) FairLoads(ctx context.Context) ([]jobs.FairLoad, error) {
	rows, err := conn(ctx, r.db).Query(ctx, `SELECT coalesce(j.company_id, ''),
			count(*) FILTER (WHERE t.admitted_at IS NULL AND j.state = 'queued'),
			count(*) FILTER (WHERE t.admitted_at IS NOT NULL),
			coalesce(extract(epoch FROM now() - min(j.created_at) FILTER (WHERE t.admitted_at IS NULL AND j.state = 'queued')), 0)
		FROM job_tasks t JOIN jobs j ON j.id = t.job_id
		WHERE t.held AND j.state IN ('queued', 'running')
		GROUP BY 1`)
	if err != nil {
		return nil, translate(err, "fair queue loads")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (jobs.FairLoad, error) {
		var l jobs.FairLoad
		var oldest float64
		err := row.Scan(&l.Company, &l.Queued, &l.InFlight, &oldest)
		l.OldestWait = time.Duration(oldest * float64(time.Second))
		return l, err
	})
	return out, translate(err, "fair queue loads")
}

// Outstanding implements jobs.Repository.
func (r *Jobs) Outstanding(ctx context.Context, grace time.Duration) ([]jobs.Outstanding, error) {
	rows, err := conn(ctx, r.db).Query(ctx, `
		SELECT j.id, j.state, t.task_id, t.queue, t.type, t.payload, t.held, t.admitted_at IS NOT NULL,
		       coalesce(t.admitted_at, t.enqueued_at) >= now() - $1::interval, t.requeues
		FROM jobs j JOIN job_tasks t ON t.job_id = j.id AND NOT t.done
		WHERE j.state IN ('queued', 'running')
		ORDER BY j.id, t.task_id`, grace.String())
	if err != nil {
		return nil, translate(err, "outstanding tasks")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (jobs.Outstanding, error) {
		var o jobs.Outstanding
		err := row.Scan(&o.Job, &o.State, &o.Task.ID, &o.Task.Queue, &o.Task.Type, &o.Task.Payload, &o.Held, &o.Admitted, &o.Young, &o.Requeues)
		return o, err
	})
	return out, translate(err, "outstanding tasks")
}

// CountRequeue implements jobs.Repository. A held task keeps its
// admission (and its company's slot), renewed now.
func (r *Jobs) CountRequeue(ctx context.Context, taskID string, requeues int) (bool, error) {
	tag, err := conn(ctx, r.db).Exec(ctx, `UPDATE job_tasks SET requeues = requeues + 1, enqueued_at = now(),
			admitted_at = CASE WHEN held THEN now() END
		WHERE task_id = $1 AND requeues = $2`, taskID, requeues)
	if err != nil {
		return false, translate(err, "count requeue")
	}
	return tag.RowsAffected() > 0, nil
}
