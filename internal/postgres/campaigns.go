package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/campaign"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/profile"
)

// Campaigns keeps campaigns, campaign_members, campaign_events,
// suppressions and control_groups (campaign.Store). Safe for concurrent
// use.
type Campaigns struct{ db *pgxpool.Pool }

var _ campaign.Store = (*Campaigns)(nil)

// NewCampaigns returns the campaign store of the service database.
func NewCampaigns(db *pgxpool.Pool) *Campaigns { return &Campaigns{db: db} }

// InTx implements campaign.Store.
func (r *Campaigns) InTx(ctx context.Context, f func(ctx context.Context) error) error {
	return inTx(ctx, r.db, f)
}

const campaignColumns = `id, company_id, name, filter, holdout_percent, global_control_percent::float8, window_days, sent_at,
	cost_cents, coalesce(currency, ''), channel, include_suppressed, state, job_id, coalesce(created_by, ''), created_at,
	frozen_at, archived_at, treatment_count, holdout_count, global_control_count, suppressed_count`

func scanCampaign(row pgx.Row) (campaign.Campaign, error) {
	var c campaign.Campaign
	var cost *int64
	err := row.Scan(&c.ID, &c.CompanyID, &c.Name, &c.Filter, &c.HoldoutPercent, &c.GlobalControlPercent, &c.WindowDays,
		&c.SentAt, &cost, &c.Currency, &c.Channel, &c.IncludeSuppressed, &c.State, &c.JobID, &c.CreatedBy, &c.CreatedAt,
		&c.FrozenAt, &c.ArchivedAt, &c.Counts.Treatment, &c.Counts.Holdout, &c.Counts.GlobalControl, &c.Counts.Suppressed)
	if err != nil {
		return c, err
	}
	if cost != nil {
		v := profile.Cents(*cost)
		c.Cost = &v
	}
	if c.SentAt != nil {
		w := campaign.WindowOf(*c.SentAt, c.WindowDays)
		c.Window = &w
	}
	return c, nil
}

// InsertCampaign implements campaign.Store.
func (r *Campaigns) InsertCampaign(ctx context.Context, c campaign.Campaign) (campaign.Campaign, error) {
	var sent *time.Time
	if c.SentAt != nil {
		t := c.SentAt.UTC()
		sent = &t
	}
	var cost *int64
	if c.Cost != nil {
		v := int64(*c.Cost)
		cost = &v
	}
	out, err := scanCampaign(conn(ctx, r.db).QueryRow(ctx, `INSERT INTO campaigns (id, company_id, name, filter, holdout_percent,
		window_days, sent_at, cost_cents, currency, channel, include_suppressed, state, job_id, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, ''), $10, $11, 'freezing', $12, NULLIF($13, ''), $14)
		RETURNING `+campaignColumns,
		c.ID, c.CompanyID, c.Name, []byte(c.Filter), c.HoldoutPercent, c.WindowDays, sent, cost, c.Currency, c.Channel,
		c.IncludeSuppressed, c.JobID, c.CreatedBy, c.CreatedAt))
	return out, translate(err, "record campaign")
}

// Campaign implements campaign.Store.
func (r *Campaigns) Campaign(ctx context.Context, id string) (campaign.Campaign, error) {
	c, err := scanCampaign(conn(ctx, r.db).QueryRow(ctx, "SELECT "+campaignColumns+" FROM campaigns WHERE id = $1", id))
	return c, translate(err, "read campaign "+id)
}

// Campaigns implements campaign.Store.
func (r *Campaigns) Campaigns(ctx context.Context, t jobs.Tenant, limit int, after string) ([]campaign.Campaign, error) {
	rows, err := conn(ctx, r.db).Query(ctx, `SELECT `+campaignColumns+` FROM campaigns
		WHERE ($1 OR company_id = $2)
		  AND ($3 = '' OR (created_at, id) < (SELECT created_at, id FROM campaigns WHERE id = $3))
		ORDER BY created_at DESC, id DESC LIMIT $4`, t.Admin, t.CompanyID, after, limit)
	if err != nil {
		return nil, translate(err, "list campaigns")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (campaign.Campaign, error) { return scanCampaign(row) })
	if out == nil {
		out = []campaign.Campaign{}
	}
	return out, translate(err, "list campaigns")
}

// DeleteCampaign implements campaign.Store (a trigger deletes the
// audience; the events cascade).
func (r *Campaigns) DeleteCampaign(ctx context.Context, id string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "DELETE FROM campaigns WHERE id = $1", id)
	return translate(err, "delete campaign "+id)
}

// ArchiveCampaign implements campaign.Store.
func (r *Campaigns) ArchiveCampaign(ctx context.Context, id string) (campaign.Campaign, error) {
	c, err := scanCampaign(conn(ctx, r.db).QueryRow(ctx, `UPDATE campaigns SET state = 'archived',
		archived_at = coalesce(archived_at, now()) WHERE id = $1 RETURNING `+campaignColumns, id))
	return c, translate(err, "archive campaign "+id)
}

// FailFreeze implements campaign.Store.
func (r *Campaigns) FailFreeze(ctx context.Context, id string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "UPDATE campaigns SET state = 'failed' WHERE id = $1 AND state = 'freezing'", id)
	return translate(err, "fail freeze of "+id)
}

// SetControlGroup implements campaign.Store.
func (r *Campaigns) SetControlGroup(ctx context.Context, companyID string, percent float64) error {
	_, err := conn(ctx, r.db).Exec(ctx, `INSERT INTO control_groups (company_id, percent) VALUES ($1, $2)
		ON CONFLICT (company_id) DO UPDATE SET percent = excluded.percent, updated_at = now()`, companyID, percent)
	return translate(err, "set control group of "+companyID)
}

// ControlGroup implements campaign.Store.
func (r *Campaigns) ControlGroup(ctx context.Context, companyID string) (float64, error) {
	var p float64
	err := conn(ctx, r.db).QueryRow(ctx, "SELECT percent::float8 FROM control_groups WHERE company_id = $1", companyID).Scan(&p)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return p, translate(err, "control group of "+companyID)
}

// LockCampaign implements campaign.Store.
func (r *Campaigns) LockCampaign(ctx context.Context, id string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE", id)
	return translate(err, "lock campaign "+id)
}

// ClearAudience implements campaign.Store.
func (r *Campaigns) ClearAudience(ctx context.Context, id string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "DELETE FROM campaign_members WHERE campaign_id = $1", id)
	return translate(err, "clear audience of "+id)
}

// CopyAudience implements campaign.Store.
func (r *Campaigns) CopyAudience(ctx context.Context, rows campaign.Rows) (int64, error) {
	n, err := conn(ctx, r.db).CopyFrom(ctx, pgx.Identifier{"campaign_members"}, []string{"campaign_id", "customer_id", "grp"}, rows)
	return n, translate(err, "copy audience")
}

// MarkFrozen implements campaign.Store.
func (r *Campaigns) MarkFrozen(ctx context.Context, id string, globalPercent float64, c campaign.Counts) error {
	_, err := conn(ctx, r.db).Exec(ctx, `UPDATE campaigns SET state = 'ready', frozen_at = now(), sent_at = coalesce(sent_at, now()),
		global_control_percent = $2, treatment_count = $3, holdout_count = $4, global_control_count = $5,
		suppressed_count = $6 WHERE id = $1`, id, globalPercent, c.Treatment, c.Holdout, c.GlobalControl, c.Suppressed)
	return translate(err, "complete freeze of "+id)
}

// Members implements campaign.Store.
func (r *Campaigns) Members(ctx context.Context, id string) (map[string]string, error) {
	rows, err := conn(ctx, r.db).Query(ctx, "SELECT customer_id, grp FROM campaign_members WHERE campaign_id = $1", id)
	if err != nil {
		return nil, translate(err, "read audience of "+id)
	}
	out := map[string]string{}
	var cust, grp string
	_, err = pgx.ForEachRow(rows, []any{&cust, &grp}, func() error {
		out[cust] = grp
		return nil
	})
	return out, translate(err, "read audience of "+id)
}

// MembersAmong implements campaign.Store.
func (r *Campaigns) MembersAmong(ctx context.Context, id string, customers []string) ([]string, error) {
	rows, err := conn(ctx, r.db).Query(ctx, "SELECT customer_id FROM campaign_members WHERE campaign_id = $1 AND customer_id = ANY($2)",
		id, customers)
	if err != nil {
		return nil, translate(err, "check audience of "+id)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, translate(err, "check audience of "+id)
}

// InsertEvents implements campaign.Store.
func (r *Campaigns) InsertEvents(ctx context.Context, id string, customers, events []string, ats []time.Time) ([]string, error) {
	rows, err := conn(ctx, r.db).Query(ctx, `INSERT INTO campaign_events (campaign_id, customer_id, event, at)
		SELECT $1, c, e, a FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS r(c, e, a)
		ON CONFLICT DO NOTHING RETURNING event`, id, customers, events, ats)
	if err != nil {
		return nil, translate(err, "record events of "+id)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, translate(err, "record events of "+id)
}

// EventCounts implements campaign.Store.
func (r *Campaigns) EventCounts(ctx context.Context, id string) (map[string]int64, error) {
	rows, err := conn(ctx, r.db).Query(ctx, `SELECT event, count(DISTINCT customer_id) FROM campaign_events
		WHERE campaign_id = $1 GROUP BY event`, id)
	if err != nil {
		return nil, translate(err, "count events of "+id)
	}
	out := map[string]int64{}
	var ev string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&ev, &n}, func() error {
		out[ev] = n
		return nil
	})
	return out, translate(err, "count events of "+id)
}

// Suppress implements campaign.Store: the earliest suppressing row of
// each customer stands.
func (r *Campaigns) Suppress(ctx context.Context, companyID, channel, campaignID string, customers, reasons []string,
	ats []time.Time) (int64, error) {
	tag, err := conn(ctx, r.db).Exec(ctx, `INSERT INTO suppressions (company_id, channel, customer_id, reason, campaign_id, at)
		SELECT DISTINCT ON (c) $1, $2, c, r, $3, a FROM unnest($4::text[], $5::text[], $6::timestamptz[]) AS x(c, r, a)
		ORDER BY c, a
		ON CONFLICT (company_id, channel, customer_id) DO NOTHING`,
		companyID, channel, campaignID, customers, reasons, ats)
	return tag.RowsAffected(), translate(err, "suppress customers of "+campaignID)
}

// Suppressed implements campaign.Store.
func (r *Campaigns) Suppressed(ctx context.Context, companyID, channel string) ([]string, error) {
	rows, err := conn(ctx, r.db).Query(ctx, `SELECT DISTINCT customer_id FROM suppressions
		WHERE company_id = $1 AND ($2 = '' OR channel = $2)`, companyID, channel)
	if err != nil {
		return nil, translate(err, "read suppressions of "+companyID)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, translate(err, "read suppressions of "+companyID)
}

// SuppressedMembers implements campaign.Store.
func (r *Campaigns) SuppressedMembers(ctx context.Context, id, companyID, channel string) (int64, error) {
	var n int64
	err := conn(ctx, r.db).QueryRow(ctx, `SELECT count(*) FROM campaign_members m JOIN suppressions s
		ON s.company_id = $2 AND s.channel = $3 AND s.customer_id = m.customer_id WHERE m.campaign_id = $1`,
		id, companyID, channel).Scan(&n)
	return n, translate(err, "count suppressed of "+id)
}

// VacuumMembers vacuums campaign_members now: the bench starts from a
// settled table, so an earlier run's deleted audiences are not vacuumed
// in the middle of this run's freezes.
func (r *Campaigns) VacuumMembers(ctx context.Context) error {
	_, err := r.db.Exec(ctx, "VACUUM (ANALYZE) campaign_members")
	return translate(err, "vacuum campaign members")
}

// CopyBaseline is the campaign benchmark's baseline: it times runs COPYs
// of rows (campaign, customer, group) into a logged table of
// campaign_members' shape (keys and checks included) created for it, each
// in a transaction that commits as a freeze's does, the table emptied
// between runs untimed, and returns the fastest. The table is dropped
// afterwards.
func (r *Campaigns) CopyBaseline(ctx context.Context, rows [][]any, runs int) (time.Duration, error) {
	if _, err := r.db.Exec(ctx, `DROP TABLE IF EXISTS bench_audience;
		CREATE TABLE bench_audience (LIKE campaign_members INCLUDING ALL)`); err != nil {
		return 0, translate(err, "copy baseline")
	}
	defer r.db.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS bench_audience") //nolint:errcheck // best effort
	var best time.Duration
	for i := 0; i < runs; i++ {
		if _, err := r.db.Exec(ctx, "TRUNCATE bench_audience"); err != nil {
			return 0, translate(err, "copy baseline")
		}
		start := time.Now()
		err := pgx.BeginFunc(ctx, r.db, func(tx pgx.Tx) error {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"bench_audience"}, []string{"campaign_id", "customer_id", "grp"}, pgx.CopyFromRows(rows))
			return err
		})
		took := time.Since(start)
		if err != nil {
			return 0, translate(err, "copy baseline")
		}
		if i == 0 || took < best {
			best = took
		}
	}
	return best, nil
}
