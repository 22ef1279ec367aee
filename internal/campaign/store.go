package campaign

import (
	"context"
	"time"

	"github.com/reactivation/reactivation/internal/jobs"
)

// Store keeps campaigns, their frozen audiences, delivery events,
// suppressions and control groups in the service database
// (postgres.Campaigns). Every method joins the transaction its context
// carries (InTx, or a job's transaction). A campaign that does not exist
// is an errs.NotFound error.
type Store interface {
	// InTx runs f in one transaction: the methods called with the context
	// f receives commit or roll back together.
	InTx(ctx context.Context, f func(ctx context.Context) error) error
	// InsertCampaign records c (state freezing) and returns it as stored.
	InsertCampaign(ctx context.Context, c Campaign) (Campaign, error)
	// Campaign returns campaign id.
	Campaign(ctx context.Context, id string) (Campaign, error)
	// Campaigns returns up to limit of the tenant's campaigns, newest
	// first, after campaign after ("" for the first page).
	Campaigns(ctx context.Context, t jobs.Tenant, limit int, after string) ([]Campaign, error)
	// DeleteCampaign removes campaign id and its audience and events.
	DeleteCampaign(ctx context.Context, id string) error
	// ArchiveCampaign marks campaign id archived (the first archive time
	// stands) and returns it.
	ArchiveCampaign(ctx context.Context, id string) (Campaign, error)
	// FailFreeze marks campaign id failed if it is still freezing.
	FailFreeze(ctx context.Context, id string) error
	// SetControlGroup sets (0: removes the effect of) a company's global
	// control percent.
	SetControlGroup(ctx context.Context, companyID string, percent float64) error
	// ControlGroup returns a company's global control percent, 0 when none.
	ControlGroup(ctx context.Context, companyID string) (float64, error)

	// LockCampaign takes campaign id's row lock until the transaction
	// ends: a concurrent freeze of it waits.
	LockCampaign(ctx context.Context, id string) error
	// ClearAudience deletes campaign id's audience.
	ClearAudience(ctx context.Context, id string) error
	// CopyAudience writes rows (campaign, customer, group) into the
	// audiences with one COPY and returns how many it wrote.
	CopyAudience(ctx context.Context, rows Rows) (int64, error)
	// MarkFrozen marks campaign id ready with its counts and the control
	// percent it froze with; sentAt defaults to now.
	MarkFrozen(ctx context.Context, id string, globalPercent float64, counts Counts) error
	// Members returns campaign id's audience, customer id to group.
	Members(ctx context.Context, id string) (map[string]string, error)
	// MembersAmong returns which of customers are in campaign id's
	// audience.
	MembersAmong(ctx context.Context, id string, customers []string) ([]string, error)

	// InsertEvents records delivery events (the same row twice is one)
	// and returns the event of each row it inserted.
	InsertEvents(ctx context.Context, id string, customers, events []string, ats []time.Time) ([]string, error)
	// EventCounts returns the distinct customers of each event of
	// campaign id.
	EventCounts(ctx context.Context, id string) (map[string]int64, error)
	// Suppress puts customers on companyID's suppression list for channel
	// (each customer's earliest row; an existing entry stands) and returns
	// how many it added.
	Suppress(ctx context.Context, companyID, channel, campaignID string, customers, reasons []string, ats []time.Time) (int64, error)
	// Suppressed returns companyID's customers suppressed on channel; ""
	// means on any channel.
	Suppressed(ctx context.Context, companyID, channel string) ([]string, error)
	// SuppressedMembers counts campaign id's members now suppressed by
	// companyID on channel.
	SuppressedMembers(ctx context.Context, id, companyID, channel string) (int64, error)
}

// Rows is what a freeze streams into CopyAudience: rows of (campaign id,
// customer id, group), as pgx.CopyFromSource reads them.
type Rows interface {
	Next() bool
	Values() ([]any, error)
	Err() error
}
