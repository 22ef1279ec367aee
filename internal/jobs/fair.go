package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/tasks"
)

// FairConfig tunes fair dispatch across companies.
type FairConfig struct {
	// MaxInFlight caps how many of one company's jobs may be admitted and
	// unfinished at once, across every worker process. Zero means the
	// workers' whole capacity: one company alone still uses every worker.
	MaxInFlight int
	// Capacity is how many per-company jobs may be admitted at once across
	// all companies. Zero means the total concurrency of the worker servers
	// asynq knows (read at most every CapacityTTL), or FallbackCapacity when
	// none is known yet.
	Capacity int
	// FallbackCapacity is the capacity while no worker server is known
	// (default 4, the default WORKER_CONCURRENCY).
	FallbackCapacity int
	// CapacityTTL is how long a capacity read from asynq is reused
	// (default 5 s).
	CapacityTTL time.Duration
	// TopCompanies bounds the company label of the fair-queue metrics: the
	// companies with the most work keep their name, the rest are "other"
	// (default 10).
	TopCompanies int
}

func (c FairConfig) withDefaults() FairConfig {
	c.FallbackCapacity = cmp.Or(c.FallbackCapacity, 4)
	c.CapacityTTL = cmp.Or(c.CapacityTTL, 5*time.Second)
	c.TopCompanies = cmp.Or(c.TopCompanies, 10)
	return c
}

// fairLock is the advisory lock key every admitter takes, so admissions of
// all API, scheduler and worker replicas happen one at a time.
const fairLock = 0x7265616374 // "react"

// Admitter hands held tasks of per-company jobs to asynq in fair order.
//
// Order: among the companies below their cap, the next job admitted is the
// one with the smallest (jobs its company has in flight + its rank among
// its company's held jobs), ties by age. A company with nothing running
// goes before one with four running, whatever arrived first; a company alone
// gets every slot. Admission stops when Capacity jobs are in flight in all,
// so asynq's FIFO queues never hold more than one round of work and every
// idle worker finds a task (work-conserving).
//
// Safe for concurrent use, in any number of processes: each admission runs
// in one PostgreSQL transaction under an advisory lock, and enqueuing is
// idempotent by task id.
type Admitter struct {
	store     *Store
	client    *asynq.Client
	inspector *asynq.Inspector
	cfg       FairConfig

	mu         sync.Mutex
	capacity   int
	capacityAt time.Time
	top        map[string]bool
}

// NewAdmitter returns an admitter with cfg's defaults filled in.
func NewAdmitter(store *Store, client *asynq.Client, inspector *asynq.Inspector, cfg FairConfig) *Admitter {
	return &Admitter{store: store, client: client, inspector: inspector, cfg: cfg.withDefaults()}
}

// Capacity is how many per-company jobs may be in flight at once.
func (a *Admitter) Capacity() int {
	if a.cfg.Capacity > 0 {
		return a.cfg.Capacity
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if time.Since(a.capacityAt) < a.cfg.CapacityTTL && a.capacity > 0 {
		return a.capacity
	}
	total := 0
	if servers, err := a.inspector.Servers(); err == nil {
		for _, s := range servers {
			if s.Status == "active" {
				total += s.Concurrency
			}
		}
	}
	a.capacity, a.capacityAt = cmp.Or(total, a.cfg.FallbackCapacity), time.Now()
	return a.capacity
}

func (a *Admitter) maxInFlight(capacity int) int {
	if a.cfg.MaxInFlight > 0 {
		return a.cfg.MaxInFlight
	}
	return capacity
}

type heldTask struct {
	taskID, jobID, company, typ string
	payload                     []byte
	createdAt                   time.Time
	rank                        int
}

// Admit hands as many held tasks to asynq as capacity and caps allow, in
// fair order. It returns the ids of the jobs it admitted. An error leaves
// the admissions already made in place; the rest wait for the next call.
func (a *Admitter) Admit(ctx context.Context) ([]string, error) {
	capacity := a.Capacity()
	limit := a.maxInFlight(capacity)
	var admitted []string
	err := pgx.BeginFunc(ctx, a.store.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", fairLock); err != nil {
			return err
		}
		inFlight, err := fairInFlight(ctx, tx)
		if err != nil {
			return err
		}
		total := 0
		for _, n := range inFlight {
			total += n
		}
		free := capacity - total
		if free <= 0 {
			return nil
		}
		heads, err := heldHeads(ctx, tx, free)
		if err != nil {
			return err
		}
		for ; free > 0; free-- {
			i := a.next(heads, inFlight, limit)
			if i < 0 {
				break
			}
			h := heads[i]
			if err := a.enqueue(ctx, tx, h); err != nil {
				return err
			}
			heads = slices.Delete(heads, i, i+1)
			inFlight[h.company]++
			admitted = append(admitted, h.jobID)
		}
		return nil
	})
	return admitted, err
}

// next picks the index of the next held task to admit, -1 when none may go.
func (a *Admitter) next(heads []heldTask, inFlight map[string]int, limit int) int {
	best := -1
	seen := map[string]bool{}
	for i, h := range heads {
		if seen[h.company] || inFlight[h.company] >= limit {
			continue // only each company's oldest remaining task competes
		}
		seen[h.company] = true
		if best < 0 || fairBefore(h, inFlight[h.company], heads[best], inFlight[heads[best].company]) {
			best = i
		}
	}
	return best
}

// fairBefore orders held tasks by their company's running count plus their
// position in the company's queue, then by age.
func fairBefore(x heldTask, xRunning int, y heldTask, yRunning int) bool {
	if kx, ky := xRunning+x.rank, yRunning+y.rank; kx != ky {
		return kx < ky
	}
	if !x.createdAt.Equal(y.createdAt) {
		return x.createdAt.Before(y.createdAt)
	}
	return x.jobID < y.jobID
}

func (a *Admitter) enqueue(ctx context.Context, tx pgx.Tx, h heldTask) error {
	task, _, err := tasks.Rebuild(h.typ, h.payload)
	if err != nil {
		// A payload that cannot be rebuilt never will be: fail the job
		// rather than block its company's queue.
		_, ferr := tx.Exec(ctx, `UPDATE jobs SET state = 'failed', error = $2, finished_at = now(), updated_at = now()
			WHERE id = $1 AND state = 'queued'`, h.jobID, "could not rebuild its task: "+err.Error())
		return ferr
	}
	if _, err := a.client.EnqueueContext(ctx, task); err != nil && !isDuplicateTask(err) {
		return fmt.Errorf("admit job %s: %w", h.jobID, err)
	}
	if _, err := tx.Exec(ctx, "UPDATE job_tasks SET admitted_at = now() WHERE task_id = $1", h.taskID); err != nil {
		return err
	}
	metrics.FairWait.WithLabelValues(a.label(h.company)).Observe(time.Since(h.createdAt).Seconds())
	return nil
}

func (a *Admitter) label(company string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.top[company] {
		return company
	}
	return "other"
}

func isDuplicateTask(err error) bool {
	return errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask)
}

// fairInFlight counts each company's admitted jobs that are not final.
func fairInFlight(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (map[string]int, error) {
	rows, err := q.Query(ctx, `SELECT coalesce(j.company_id, ''), count(*)
		FROM job_tasks t JOIN jobs j ON j.id = t.job_id
		WHERE t.held AND t.admitted_at IS NOT NULL AND j.state IN ('queued', 'running')
		GROUP BY 1`)
	if err != nil {
		return nil, fmt.Errorf("fair queue: in flight: %w", err)
	}
	out := map[string]int{}
	for rows.Next() {
		var c string
		var n int
		if err := rows.Scan(&c, &n); err != nil {
			rows.Close()
			return nil, err
		}
		out[c] = n
	}
	return out, rows.Err()
}

// heldHeads returns up to n of each company's oldest held tasks, with their
// rank in the company's queue (1 = next).
func heldHeads(ctx context.Context, tx pgx.Tx, n int) ([]heldTask, error) {
	rows, err := tx.Query(ctx, `SELECT task_id, job_id, company_id, type, payload, created_at, rn FROM (
			SELECT t.task_id, t.job_id, coalesce(j.company_id, '') AS company_id, t.type, t.payload, j.created_at,
			       row_number() OVER (PARTITION BY j.company_id ORDER BY j.created_at, j.id) AS rn
			FROM job_tasks t JOIN jobs j ON j.id = t.job_id
			WHERE t.held AND t.admitted_at IS NULL AND NOT t.done AND j.state = 'queued') q
		WHERE rn <= $1 ORDER BY rn, created_at, job_id`, n)
	if err != nil {
		return nil, fmt.Errorf("fair queue: held tasks: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (heldTask, error) {
		var h heldTask
		err := r.Scan(&h.taskID, &h.jobID, &h.company, &h.typ, &h.payload, &h.createdAt, &h.rank)
		return h, err
	})
}

// Position is where a held job stands in the fair queue.
type Position struct {
	// QueuePosition is the job's place among its company's waiting jobs
	// (1 = next).
	QueuePosition int
	// AheadOfYou counts the waiting jobs of every company that the fair
	// order admits before this one.
	AheadOfYou int
	// EstimatedStartAt extrapolates from the recent durations of jobs of the
	// same type; nil without history.
	EstimatedStartAt *time.Time
}

// Position returns where job stands, and false when it is not waiting in
// the fair queue (not held, already admitted, or final).
func (a *Admitter) Position(ctx context.Context, job Job) (Position, bool, error) {
	if job.State != Queued {
		return Position{}, false, nil
	}
	var p Position
	err := a.store.pool.QueryRow(ctx, `
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
		FROM keyed me WHERE me.id = $1`, job.ID).Scan(&p.QueuePosition, &p.AheadOfYou)
	if errors.Is(err, pgx.ErrNoRows) {
		return Position{}, false, nil
	}
	if err != nil {
		return Position{}, false, fmt.Errorf("fair queue position: %w", err)
	}
	var avg *float64
	err = a.store.pool.QueryRow(ctx, `SELECT avg(extract(epoch FROM finished_at - started_at)) FROM (
			SELECT finished_at, started_at FROM jobs WHERE type = $1 AND state = 'succeeded' AND started_at IS NOT NULL
			ORDER BY finished_at DESC LIMIT 50) r`, job.Type).Scan(&avg)
	if err != nil {
		return Position{}, false, fmt.Errorf("fair queue estimate: %w", err)
	}
	if avg != nil {
		rounds := float64(p.AheadOfYou/a.Capacity()) + 0.5 // half a job for the slot to free
		at := time.Now().Add(time.Duration(rounds * *avg * float64(time.Second))).UTC().Truncate(time.Second)
		p.EstimatedStartAt = &at
	}
	return p, true, nil
}

// Observe refreshes the fair-queue gauges from the job rows: jobs waiting,
// in flight and the oldest wait by company, the busiest TopCompanies by
// name and the rest as "other".
func (a *Admitter) Observe(ctx context.Context) error {
	rows, err := a.store.pool.Query(ctx, `SELECT coalesce(j.company_id, ''),
			count(*) FILTER (WHERE t.admitted_at IS NULL AND j.state = 'queued'),
			count(*) FILTER (WHERE t.admitted_at IS NOT NULL),
			coalesce(extract(epoch FROM now() - min(j.created_at) FILTER (WHERE t.admitted_at IS NULL AND j.state = 'queued')), 0)
		FROM job_tasks t JOIN jobs j ON j.id = t.job_id
		WHERE t.held AND j.state IN ('queued', 'running')
		GROUP BY 1`)
	if err != nil {
		return fmt.Errorf("fair queue metrics: %w", err)
	}
	type load struct {
		company          string
		queued, inFlight int
		oldest           float64
	}
	loads, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (load, error) {
		var l load
		err := r.Scan(&l.company, &l.queued, &l.inFlight, &l.oldest)
		return l, err
	})
	if err != nil {
		return fmt.Errorf("fair queue metrics: %w", err)
	}
	slices.SortFunc(loads, func(x, y load) int {
		return cmp.Or(cmp.Compare(y.queued+y.inFlight, x.queued+x.inFlight), cmp.Compare(x.company, y.company))
	})
	top := map[string]bool{}
	metrics.FairQueued.Reset()
	metrics.FairInFlight.Reset()
	metrics.FairOldestQueued.Reset()
	otherOldest := -1.0
	for i, l := range loads {
		name := "other"
		if i < a.cfg.TopCompanies {
			name = l.company
			top[l.company] = true
		} else {
			otherOldest = max(otherOldest, l.oldest)
		}
		metrics.FairQueued.WithLabelValues(name).Add(float64(l.queued))
		metrics.FairInFlight.WithLabelValues(name).Add(float64(l.inFlight))
		if name != "other" {
			metrics.FairOldestQueued.WithLabelValues(name).Set(l.oldest)
		}
	}
	// "other" always exists, so dashboards and alerts see the series
	// before any company waits.
	metrics.FairQueued.WithLabelValues("other").Add(0)
	metrics.FairInFlight.WithLabelValues("other").Add(0)
	metrics.FairOldestQueued.WithLabelValues("other").Set(max(otherOldest, 0))
	a.mu.Lock()
	a.top = top
	a.mu.Unlock()
	return nil
}
