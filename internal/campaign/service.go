package campaign

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/tasks"
)

// Config tunes a Service. Zero values mean the defaults.
type Config struct {
	// Location anchors the filter's day-based fields; UTC when nil.
	Location *time.Location
	// PageSize is how many customers a freeze reads from the engine at a
	// time (the most an Elasticsearch scroll page holds); 10000 when 0.
	PageSize int
	// OnBatch, if not nil, is called by a freeze after each page it wrote
	// into its COPY with the number of members written so far; an error it
	// returns aborts the freeze (its transaction rolls back).
	OnBatch func(campaignID string, written int64) error
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Params are a Service's dependencies.
type Params struct {
	// Store keeps campaigns, audiences, events and suppressions in the
	// service database (postgres.NewCampaigns).
	Store Store
	// Source is the customer's database the report reads invoices from.
	Source *pgxpool.Pool
	// Engine is what a freeze reads the audience from; the API needs none.
	Engine     search.Searcher
	Dispatcher *jobs.Dispatcher
	Log        *zap.Logger
	Config     Config
}

// Service creates, freezes, reports and archives campaigns. Safe for
// concurrent use.
type Service struct {
	store      Store
	source     *pgxpool.Pool
	engine     search.Searcher
	dispatcher *jobs.Dispatcher
	log        *zap.Logger
	cfg        Config
}

// NewService returns a service over p with p.Config's defaults filled.
func NewService(p Params) *Service {
	c := p.Config
	c.PageSize = cmp.Or(c.PageSize, 10000)
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Service{store: p.Store, source: p.Source, engine: p.Engine, dispatcher: p.Dispatcher, log: p.Log, cfg: c}
}

// jobParams is what the freeze job's row shows.
type jobParams struct {
	CampaignID string `json:"campaignId"`
}

// Create records a campaign of the customers matching f (which must name
// its company) and enqueues the job that freezes its audience. Bad fields
// are a *segment.ValidationError.
func (s *Service) Create(ctx context.Context, n New, f segment.Filter, createdBy string) (Campaign, jobs.Job, error) {
	n, err := n.Validate()
	if err != nil {
		return Campaign{}, jobs.Job{}, err
	}
	if err := f.RequireCompany(); err != nil {
		return Campaign{}, jobs.Job{}, err
	}
	// A time-ordered id (UUIDv7): a new campaign's members, written in
	// ascending customer order, then land on the rightmost page of
	// campaign_members' (campaign_id, customer_id) key, PostgreSQL's
	// fastest insert, as into an empty table; a random id put them in the
	// middle of the index, each insert a descent from the root.
	uid, err := uuid.NewV7()
	if err != nil {
		return Campaign{}, jobs.Job{}, fmt.Errorf("campaign id: %w", err)
	}
	id := uid.String()
	filter := f.Canonical()
	var created Campaign
	job, err := s.dispatcher.Start(ctx, jobs.New{CompanyID: *f.CompanyID, Type: jobs.TypeCampaignFreeze, CreatedBy: createdBy,
		Params: jobParams{CampaignID: id}},
		func(jobID string) (*asynq.Task, string, error) {
			return tasks.NewCampaignFreezeTask(tasks.CampaignFreezePayload{JobPayload: tasks.JobPayload{JobID: jobID}, CampaignID: id})
		},
		func(ctx context.Context, job jobs.Job) error {
			var err error
			created, err = s.store.InsertCampaign(ctx, Campaign{ID: id, CompanyID: job.CompanyID, Name: n.Name, Filter: filter,
				HoldoutPercent: *n.HoldoutPercent, WindowDays: *n.WindowDays, SentAt: n.SentAt, Cost: n.Cost, Currency: n.Currency,
				Channel: n.Channel, IncludeSuppressed: n.IncludeSuppressed, JobID: job.ID, CreatedBy: createdBy, CreatedAt: job.CreatedAt})
			return err
		})
	if err != nil {
		return Campaign{}, jobs.Job{}, err
	}
	metrics.CampaignsCreated.Inc()
	return created, job, nil
}

// Get returns campaign id if the tenant may see it; NotFound otherwise, so
// a company never learns that another company's campaign exists.
func (s *Service) Get(ctx context.Context, t jobs.Tenant, id string) (Campaign, error) {
	if uuid.Validate(id) != nil {
		return Campaign{}, notFound(id)
	}
	c, err := s.store.Campaign(ctx, id)
	if errs.Is(err, errs.NotFound) || (err == nil && !t.Sees(c.CompanyID)) {
		return Campaign{}, notFound(id)
	}
	if err != nil {
		return Campaign{}, err
	}
	return c, nil
}

// List limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 100
)

// List returns up to limit of the tenant's campaigns, newest first, after
// the campaign id after ("" for the first page).
func (s *Service) List(ctx context.Context, t jobs.Tenant, limit int, after string) ([]Campaign, error) {
	if limit < 1 || limit > MaxListLimit {
		return nil, invalid("limit", "must be between 1 and %d", MaxListLimit)
	}
	if after != "" && uuid.Validate(after) != nil {
		return nil, invalid("cursor", "is not a cursor this endpoint returned")
	}
	return s.store.Campaigns(ctx, t, limit, after)
}

// Delete removes a campaign that has not been sent yet (no sentAt, or
// sentAt in the future), canceling its freeze job, and reports true; a
// campaign already sent is archived instead (its audience and report are
// kept) and it reports false.
func (s *Service) Delete(ctx context.Context, t jobs.Tenant, id string) (bool, Campaign, error) {
	c, err := s.Get(ctx, t, id)
	if err != nil {
		return false, c, err
	}
	now := s.cfg.Now()
	if c.SentAt == nil || c.SentAt.After(now) {
		if _, err := s.dispatcher.Cancel(ctx, jobs.Tenant{Admin: true}, c.JobID, "campaign deleted"); err != nil && !errs.Is(err, errs.Conflict) {
			return false, c, err
		}
		if err := s.store.DeleteCampaign(ctx, id); err != nil {
			return false, c, err
		}
		return true, c, nil
	}
	c, err = s.store.ArchiveCampaign(ctx, id)
	return false, c, err
}

// SetControlGroup sets the company's global control group to percent
// (0 to 50, at most two decimals; 0 removes it). Campaigns frozen later
// keep those customers out of their treatment.
func (s *Service) SetControlGroup(ctx context.Context, companyID string, percent float64) error {
	if percent < 0 || percent > MaxHoldoutPercent || percent*100 != float64(int64(percent*100)) {
		return invalid("percent", "must be between 0 and %d with at most two decimals", MaxHoldoutPercent)
	}
	return s.store.SetControlGroup(ctx, companyID, percent)
}

// ControlGroup returns the company's global control percent, 0 when none.
func (s *Service) ControlGroup(ctx context.Context, companyID string) (float64, error) {
	return s.store.ControlGroup(ctx, companyID)
}

// Freeze writes the audience of a freezing campaign: every customer the
// engine matches with the campaign's filter at the job's creation time,
// less the channel's suppressed customers unless the campaign includes
// them, each assigned by the Assigner. It runs in one transaction, so a
// crash leaves nothing behind, and a re-run writes the same rows (the
// assignment depends only on the ids). A campaign that is no longer
// freezing or ready (deleted, archived) is left alone.
func (s *Service) Freeze(ctx context.Context, campaignID string, jobCreated time.Time) (Counts, error) {
	c, err := s.Get(ctx, jobs.Tenant{Admin: true}, campaignID)
	if errs.Is(err, errs.NotFound) {
		return Counts{}, nil
	}
	if err != nil {
		return Counts{}, err
	}
	if c.State != Freezing && c.State != Ready {
		return c.Counts, nil
	}
	f, err := segment.Decode(c.Filter)
	if err != nil {
		return Counts{}, &errs.Error{Code: errs.Invalid, Message: "campaign " + c.ID + " has an invalid filter", Err: err}
	}
	global, err := s.ControlGroup(ctx, c.CompanyID)
	if err != nil {
		return Counts{}, err
	}
	suppressed := map[string]struct{}{}
	if !c.IncludeSuppressed {
		if suppressed, err = s.suppressedSet(ctx, c.CompanyID, c.Channel); err != nil {
			return Counts{}, err
		}
	}
	assign := NewAssigner(c.ID, c.CompanyID, c.HoldoutPercent, global)
	var counts Counts
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		// The row lock makes a concurrent re-run wait, then start over.
		if err := s.store.LockCampaign(ctx, c.ID); err != nil {
			return err
		}
		if err := s.store.ClearAudience(ctx, c.ID); err != nil {
			return err
		}
		q := search.Query{Filter: f, Sort: segment.Sort{Field: segment.SortName}, Size: s.cfg.PageSize, Now: jobCreated,
			Location: s.cfg.Location, Unordered: true, Fields: []string{"customerId"}}
		if err := s.copyAudience(ctx, c.ID, q, assign, suppressed, &counts); err != nil {
			return err
		}
		return s.store.MarkFrozen(ctx, c.ID, global, counts)
	})
	if err != nil {
		return Counts{}, fmt.Errorf("freeze campaign %s: %w", c.ID, err)
	}
	return counts, nil
}

// copyAudience streams the engine's matches into campaign_members with one
// COPY: the engine reads the next page while PostgreSQL writes this one.
// Either side's error stops both, and the caller's transaction rolls back
// whatever the COPY wrote.
func (s *Service) copyAudience(ctx context.Context, id string, q search.Query, assign Assigner,
	suppressed map[string]struct{}, counts *Counts) error {
	g, gctx := errgroup.WithContext(ctx)
	pages := make(chan []profile.Profile, 2)
	g.Go(func() error { return search.ScanInto(gctx, s.engine, q, pages) })
	g.Go(func() error {
		src := &audienceRows{ctx: gctx, pages: pages, id: id, assign: assign, suppressed: suppressed, counts: counts,
			onPage: s.cfg.OnBatch}
		_, err := s.store.CopyAudience(gctx, src)
		return err
	})
	return g.Wait()
}

// audienceRows is the COPY's Rows (a pgx.CopyFromSource): the rows of the pages the
// engine hands over, assigned, the suppressed left out and counted.
type audienceRows struct {
	ctx        context.Context
	pages      <-chan []profile.Profile
	id         string
	assign     Assigner
	suppressed map[string]struct{}
	counts     *Counts
	// onPage, if not nil, is called once a page is written into the COPY,
	// with the rows written so far; its error aborts the COPY.
	onPage func(campaignID string, written int64) error

	page    []profile.Profile
	next    int
	written int64
	row     [3]any
	err     error
}

// Next moves to the next customer not suppressed, waiting for the engine's
// next page when this one is done.
func (r *audienceRows) Next() bool {
	for {
		for r.next < len(r.page) {
			p := r.page[r.next]
			r.next++
			if _, ok := r.suppressed[p.CustomerID]; ok {
				r.counts.Suppressed++
				continue
			}
			grp := r.assign.Group(p.CustomerID)
			switch grp {
			case Treatment:
				r.counts.Treatment++
			case Holdout:
				r.counts.Holdout++
			default:
				r.counts.GlobalControl++
			}
			r.written++
			r.row = [3]any{r.id, p.CustomerID, grp}
			return true
		}
		if r.page != nil && r.onPage != nil {
			if r.err = r.onPage(r.id, r.written); r.err != nil {
				return false
			}
		}
		select {
		case ps, ok := <-r.pages:
			if !ok {
				return false
			}
			r.page, r.next = ps, 0
		case <-r.ctx.Done():
			r.err = r.ctx.Err()
			return false
		}
	}
}

// Values returns the current row.
func (r *audienceRows) Values() ([]any, error) { return r.row[:], nil }

// Err is what stopped the rows early, nil at the end of the scan.
func (r *audienceRows) Err() error { return r.err }

// FailFreeze marks a campaign whose freeze failed for the last time.
func (s *Service) FailFreeze(ctx context.Context, campaignID string) error {
	return s.store.FailFreeze(ctx, campaignID)
}

// Members returns the frozen audience, customer id to group.
func (s *Service) Members(ctx context.Context, campaignID string) (map[string]string, error) {
	return s.store.Members(ctx, campaignID)
}

// Report computes the campaign's report now, from the source's invoices.
// A campaign whose audience is not frozen yet is a Conflict.
func (s *Service) Report(ctx context.Context, t jobs.Tenant, id string) (Report, error) {
	start := time.Now()
	c, err := s.Get(ctx, t, id)
	if err != nil {
		return Report{}, err
	}
	if c.State != Ready && c.State != Archived {
		return Report{}, &errs.Error{Code: errs.Conflict, Message: fmt.Sprintf("campaign %s is %s; its audience is not frozen", id, c.State),
			Detail: map[string]any{"state": c.State, "jobId": c.JobID}}
	}
	members, err := s.Members(ctx, id)
	if err != nil {
		return Report{}, err
	}
	tallies := map[string]*tally{Treatment: {}, Holdout: {}, GlobalControl: {}}
	ids := make([]string, 0, len(members))
	for cust, grp := range members {
		tallies[grp].customers++
		ids = append(ids, cust)
	}
	w := WindowOf(*c.SentAt, c.WindowDays)
	outcomes, err := WindowOutcomes(ctx, s.source, ids, w)
	if err != nil {
		return Report{}, err
	}
	for cust, o := range outcomes {
		if grp, ok := members[cust]; ok {
			tallies[grp].add(o)
		}
	}
	r := compute(c, tallies, s.cfg.Now().UTC())
	if r.Events, r.Suppressed, err = s.eventSummary(ctx, c); err != nil {
		return Report{}, err
	}
	metrics.CampaignReportDuration.Observe(time.Since(start).Seconds())
	return r, nil
}

// WindowOutcomes reads, from the source, the invoices of the customers ids
// dated in [w.Start, w.End): per customer who has any, their count, their
// total (exact cents) and the first one's date. It is the report's one
// statement over the source.
func WindowOutcomes(ctx context.Context, source *pgxpool.Pool, ids []string, w Window) (map[string]outcome, error) {
	// A join with the unnested ids, not = ANY: the planner then picks a hash
	// join or index lookups by the audience's size.
	rows, err := source.Query(ctx, `SELECT i.customer_id, count(*), (sum(i.total_amount) * 100)::bigint, min(i.invoice_date)
		FROM unnest($1::text[]) AS a(id) JOIN invoices i ON i.customer_id = a.id
		WHERE i.invoice_date >= $2 AND i.invoice_date < $3
		GROUP BY i.customer_id`, ids, w.Start, w.End)
	if err != nil {
		return nil, fmt.Errorf("read window invoices: %w", err)
	}
	defer rows.Close()
	out := map[string]outcome{}
	var id string
	var o outcome
	var cents int64
	_, err = pgx.ForEachRow(rows, []any{&id, &o.orders, &cents, &o.first}, func() error {
		o.revenue = profile.Cents(cents)
		out[id] = o
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read window invoices: %w", err)
	}
	return out, nil
}

// eventSummary counts the distinct customers of each event and the
// audience members now suppressed on the campaign's channel.
func (s *Service) eventSummary(ctx context.Context, c Campaign) (EventSummary, int64, error) {
	e := EventSummary{Channel: c.Channel}
	counts, err := s.store.EventCounts(ctx, c.ID)
	if err != nil {
		return e, 0, err
	}
	e.Delivered, e.Opened, e.Clicked = counts[EventDelivered], counts[EventOpened], counts[EventClicked]
	e.Bounced, e.Unsubscribed, e.Complained = counts[EventBounced], counts[EventUnsubscribed], counts[EventComplained]
	e.DeliveredRate = ratio(e.Delivered, c.Counts.Treatment)
	e.OpenRate = ratio(e.Opened, e.Delivered)
	e.ClickRate = ratio(e.Clicked, e.Delivered)
	suppressed, err := s.store.SuppressedMembers(ctx, c.ID, c.CompanyID, c.Channel)
	return e, suppressed, err
}
