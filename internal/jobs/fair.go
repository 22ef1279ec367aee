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

// Admit hands as many held tasks to asynq as capacity and caps allow, in
// fair order. It returns the ids of the jobs it admitted. An error leaves
// the admissions already made in place; the rest wait for the next call.
func (a *Admitter) Admit(ctx context.Context) ([]string, error) {
	capacity := a.Capacity()
	limit := a.maxInFlight(capacity)
	var admitted []string
	repo := a.store.repo
	err := repo.InTx(ctx, func(ctx context.Context) error {
		if err := repo.LockAdmission(ctx); err != nil {
			return fmt.Errorf("fair queue: lock: %w", err)
		}
		inFlight, err := repo.AdmittedInFlight(ctx)
		if err != nil {
			return fmt.Errorf("fair queue: in flight: %w", err)
		}
		total := 0
		for _, n := range inFlight {
			total += n
		}
		free := capacity - total
		if free <= 0 {
			return nil
		}
		heads, err := repo.HeldHeads(ctx, free)
		if err != nil {
			return fmt.Errorf("fair queue: held tasks: %w", err)
		}
		for ; free > 0; free-- {
			i := a.next(heads, inFlight, limit)
			if i < 0 {
				break
			}
			h := heads[i]
			if err := a.enqueue(ctx, h); err != nil {
				return err
			}
			heads = slices.Delete(heads, i, i+1)
			inFlight[h.Company]++
			admitted = append(admitted, h.JobID)
		}
		return nil
	})
	return admitted, err
}

// next picks the index of the next held task to admit, -1 when none may go.
func (a *Admitter) next(heads []HeldTask, inFlight map[string]int, limit int) int {
	best := -1
	seen := map[string]bool{}
	for i, h := range heads {
		if seen[h.Company] || inFlight[h.Company] >= limit {
			continue // only each company's oldest remaining task competes
		}
		seen[h.Company] = true
		if best < 0 || fairBefore(h, inFlight[h.Company], heads[best], inFlight[heads[best].Company]) {
			best = i
		}
	}
	return best
}

// fairBefore orders held tasks by their company's running count plus their
// position in the company's queue, then by age.
func fairBefore(x HeldTask, xRunning int, y HeldTask, yRunning int) bool {
	if kx, ky := xRunning+x.Rank, yRunning+y.Rank; kx != ky {
		return kx < ky
	}
	if !x.CreatedAt.Equal(y.CreatedAt) {
		return x.CreatedAt.Before(y.CreatedAt)
	}
	return x.JobID < y.JobID
}

// enqueue admits h in the admission's transaction (ctx).
func (a *Admitter) enqueue(ctx context.Context, h HeldTask) error {
	task, _, err := tasks.Rebuild(h.Type, h.Payload)
	if err != nil {
		// A payload that cannot be rebuilt never will be: fail the job
		// rather than block its company's queue.
		_, ferr := a.store.repo.Finish(ctx, h.JobID, Failed, nil, "could not rebuild its task: "+err.Error())
		return ferr
	}
	if _, err := a.client.EnqueueContext(ctx, task); err != nil && !isDuplicateTask(err) {
		return fmt.Errorf("admit job %s: %w", h.JobID, err)
	}
	if err := a.store.repo.MarkAdmitted(ctx, h.TaskID); err != nil {
		return fmt.Errorf("admit job %s: %w", h.JobID, err)
	}
	metrics.FairWait.WithLabelValues(a.label(h.Company)).Observe(time.Since(h.CreatedAt).Seconds())
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
	var waiting bool
	var err error
	p.QueuePosition, p.AheadOfYou, waiting, err = a.store.repo.FairPosition(ctx, job.ID)
	if err != nil {
		return Position{}, false, fmt.Errorf("fair queue position: %w", err)
	}
	if !waiting {
		return Position{}, false, nil
	}
	avg, ok, err := a.store.repo.RecentDuration(ctx, job.Type)
	if err != nil {
		return Position{}, false, fmt.Errorf("fair queue estimate: %w", err)
	}
	if ok {
		rounds := float64(p.AheadOfYou/a.Capacity()) + 0.5 // half a job for the slot to free
		at := time.Now().Add(time.Duration(rounds * float64(avg))).UTC().Truncate(time.Second)
		p.EstimatedStartAt = &at
	}
	return p, true, nil
}

// Observe refreshes the fair-queue gauges from the job rows: jobs waiting,
// in flight and the oldest wait by company, the busiest TopCompanies by
// name and the rest as "other".
func (a *Admitter) Observe(ctx context.Context) error {
	loads, err := a.store.repo.FairLoads(ctx)
	if err != nil {
		return fmt.Errorf("fair queue metrics: %w", err)
	}
	slices.SortFunc(loads, func(x, y FairLoad) int {
		return cmp.Or(cmp.Compare(y.Queued+y.InFlight, x.Queued+x.InFlight), cmp.Compare(x.Company, y.Company))
	})
	top := map[string]bool{}
	metrics.FairQueued.Reset()
	metrics.FairInFlight.Reset()
	metrics.FairOldestQueued.Reset()
	otherOldest := -1.0
	for i, l := range loads {
		name := "other"
		if i < a.cfg.TopCompanies {
			name = l.Company
			top[l.Company] = true
		} else {
			otherOldest = max(otherOldest, l.OldestWait.Seconds())
		}
		metrics.FairQueued.WithLabelValues(name).Add(float64(l.Queued))
		metrics.FairInFlight.WithLabelValues(name).Add(float64(l.InFlight))
		if name != "other" {
			metrics.FairOldestQueued.WithLabelValues(name).Set(l.OldestWait.Seconds())
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
