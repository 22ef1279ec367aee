package campaign_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/campaign"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/testenv"
)

type testBundle struct {
	deps *app.App
	svc  *campaign.Service
	// failAfter, when > 0, makes a freeze fail once it has written that
	// many members (a worker dying mid-copy).
	failAfter int64
}

// setup indexes n COMP001 customers and n/4 COMP002 ones in the
// configured engine and returns a service that freezes in pages of 1000.
func setup(t *testing.T, n int) *testBundle { return setupOn(t, n, false) }

// setupOn is setup, on the PostgreSQL engine in the service database when
// inDatabase.
func setupOn(t *testing.T, n int, inDatabase bool) *testBundle {
	t.Helper()
	ctx := context.Background()
	cfg := testenv.Config(t)
	if inDatabase {
		cfg.ElasticsearchURL = ""
	}
	deps := testenv.App(t, cfg)
	var err error

	docs := make([]profile.Profile, 0, n+n/4)
	for i := 0; i < n; i++ {
		docs = append(docs, profile.Profile{CustomerID: fmt.Sprintf("C%06d", i), CompanyID: "COMP001", Gender: "unknown"})
	}
	for i := 0; i < n/4; i++ {
		docs = append(docs, profile.Profile{CustomerID: fmt.Sprintf("D%06d", i), CompanyID: "COMP002", Gender: "unknown"})
	}
	require.NoError(t, deps.Engine.CreateGeneration(ctx, "g1"))
	require.NoError(t, deps.Engine.Index(ctx, "g1", docs))
	_, err = deps.Engine.Count(ctx, "g1")
	require.NoError(t, err)
	require.NoError(t, deps.Engine.Promote(ctx, "g1"))

	b := &testBundle{deps: deps}
	b.svc = campaign.NewService(campaign.Params{Store: postgres.NewCampaigns(deps.DB), Source: deps.Source, Engine: deps.Engine, Dispatcher: deps.Dispatcher,
		Log: deps.Log, Config: campaign.Config{Location: cfg.Location, PageSize: 1000,
			OnBatch: func(_ string, written int64) error {
				if b.failAfter > 0 && written >= b.failAfter {
					b.failAfter = 0
					return errors.New("worker died")
				}
				return nil
			}}})
	return b
}

func (b *testBundle) create(t *testing.T, holdout int) (campaign.Campaign, jobs.Job) {
	t.Helper()
	return b.createNew(t, campaign.New{Name: "win back", HoldoutPercent: &holdout})
}

func (b *testBundle) createNew(t *testing.T, n campaign.New) (campaign.Campaign, jobs.Job) {
	t.Helper()
	f := segment.Filter{}
	f.PinCompany("COMP001")
	c, job, err := b.svc.Create(context.Background(), n, f, "test")
	require.NoError(t, err)
	return c, job
}

// expectedGroup is the documented rule, computed apart from the package:
// u / 2^64 < p / 100 with u the first 8 bytes of SHA-256, big-endian.
func expectedGroup(campaignID, companyID, customerID string, holdout, global float64) string {
	below := func(key string, percent float64) bool {
		sum := sha256.Sum256([]byte(key))
		u := new(big.Int).SetBytes(sum[:8])
		frac := new(big.Rat).SetFrac(u, new(big.Int).Lsh(big.NewInt(1), 64))
		limit := new(big.Rat).SetFrac64(int64(math.Round(percent*100)), 10000)
		return frac.Cmp(limit) < 0
	}
	if below("global:"+companyID+":"+customerID, global) {
		return campaign.GlobalControl
	}
	if below(campaignID+":"+customerID, holdout) {
		return campaign.Holdout
	}
	return campaign.Treatment
}

func TestFreezeAssignsEveryMemberByTheDocumentedRule(t *testing.T) {
	const n = 20000
	b := setup(t, n)
	ctx := context.Background()
	c, job := b.create(t, 10)
	counts, err := b.svc.Freeze(ctx, c.ID, job.CreatedAt)
	require.NoError(t, err)
	require.Equal(t, int64(n), counts.Total(), "every COMP001 customer, no COMP002 one")

	members, err := b.svc.Members(ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, members, n)
	holdout := 0
	for cust, grp := range members {
		require.Equal(t, "C", cust[:1], "another company's customer in the audience")
		require.Equal(t, expectedGroup(c.ID, "COMP001", cust, 10, 0), grp, cust)
		if grp == campaign.Holdout {
			holdout++
		}
	}
	share := 100 * float64(holdout) / n
	require.InDelta(t, 10, share, 1, "holdout share %.2f%%", share)
	require.Equal(t, int64(holdout), counts.Holdout)

	got, err := b.svc.Get(ctx, jobs.Tenant{CompanyID: "COMP001"}, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.Ready, got.State)
	require.NotNil(t, got.SentAt, "sentAt defaults to the freeze")
	require.Equal(t, counts, got.Counts)
	_, err = b.svc.Get(ctx, jobs.Tenant{CompanyID: "COMP002"}, c.ID)
	require.ErrorContains(t, err, "not found")

	// A company control group: those customers leave every treatment.
	require.NoError(t, b.svc.SetControlGroup(ctx, "COMP001", 5))
	c2, job2 := b.create(t, 20)
	counts2, err := b.svc.Freeze(ctx, c2.ID, job2.CreatedAt)
	require.NoError(t, err)
	members2, err := b.svc.Members(ctx, c2.ID)
	require.NoError(t, err)
	global := 0
	for cust, grp := range members2 {
		require.Equal(t, expectedGroup(c2.ID, "COMP001", cust, 20, 5), grp, cust)
		if grp == campaign.GlobalControl {
			global++
		}
	}
	require.InDelta(t, 5, 100*float64(global)/n, 1)
	require.Equal(t, int64(global), counts2.GlobalControl)
	require.InDelta(t, 20, 100*float64(counts2.Holdout)/float64(n-global), 1)
}

func TestFreezeRetryAfterACrashWritesTheSameRowsOnce(t *testing.T) {
	b := setup(t, 5000)
	ctx := context.Background()
	c, job := b.create(t, 30)

	b.failAfter = 2000
	_, err := b.svc.Freeze(ctx, c.ID, job.CreatedAt)
	require.ErrorContains(t, err, "worker died")
	var rows int64
	require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT count(*) FROM campaign_members WHERE campaign_id = $1", c.ID).Scan(&rows))
	require.Zero(t, rows, "a crashed freeze leaves nothing behind")
	got, err := b.svc.Get(ctx, jobs.Tenant{Admin: true}, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.Freezing, got.State)

	first, err := b.svc.Freeze(ctx, c.ID, job.CreatedAt)
	require.NoError(t, err)
	before, err := b.svc.Members(ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, before, 5000)
	// A retry after success (the task ran twice) changes nothing.
	b.requireRerunSame(t, c, job, first, before)
	var total int64

	// Deleting the campaign deletes its audience (the trigger that stands
	// for the dropped foreign key's cascade), and no other campaign's.
	other, otherJob := b.create(t, 10)
	_, err = b.svc.Freeze(ctx, other.ID, otherJob.CreatedAt)
	require.NoError(t, err)
	_, err = b.deps.DB.Exec(ctx, "DELETE FROM campaigns WHERE id = $1", c.ID)
	require.NoError(t, err)
	require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT count(*) FROM campaign_members WHERE campaign_id = $1", c.ID).Scan(&total))
	require.Zero(t, total)
	require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT count(*) FROM campaign_members WHERE campaign_id = $1", other.ID).Scan(&total))
	require.Equal(t, int64(5000), total)
}

// TestFreezeOnThePostgresEngine: on the engine kept in the service
// database the freeze writes every match once, each assigned by the
// documented rule (control group and holdout), the channel's suppressed
// customers left out and counted (another channel's and another company's
// suppressions ignored), or kept with includeSuppressed; a re-run writes
// the same rows once.
func TestFreezeOnThePostgresEngine(t *testing.T) {
	const n = 5000
	b := setupOn(t, n, true)
	ctx := context.Background()
	require.Equal(t, "postgres", b.deps.Engine.Name())
	require.NoError(t, b.svc.SetControlGroup(ctx, "COMP001", 5))
	_, err := b.deps.DB.Exec(ctx, `INSERT INTO suppressions (company_id, channel, customer_id, reason, at) VALUES
		('COMP001', 'email', 'C000001', 'unsubscribed', now()), ('COMP001', 'email', 'C000002', 'bounced', now()),
		('COMP001', 'sms', 'C000003', 'unsubscribed', now()), ('COMP002', 'email', 'C000004', 'unsubscribed', now())`)
	require.NoError(t, err)

	c, job := b.create(t, 20)
	counts, err := b.svc.Freeze(ctx, c.ID, job.CreatedAt)
	require.NoError(t, err)
	members, err := b.svc.Members(ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, members, n-2)
	require.NotContains(t, members, "C000001")
	require.NotContains(t, members, "C000002")
	require.Contains(t, members, "C000003", "suppressed on another channel")
	require.Contains(t, members, "C000004", "suppressed by another company")
	tally := campaign.Counts{Suppressed: 2}
	for cust, grp := range members {
		require.Equal(t, "C", cust[:1], "another company's customer in the audience")
		require.Equal(t, expectedGroup(c.ID, "COMP001", cust, 20, 5), grp, cust)
		switch grp {
		case campaign.Treatment:
			tally.Treatment++
		case campaign.Holdout:
			tally.Holdout++
		default:
			tally.GlobalControl++
		}
	}
	require.Equal(t, tally, counts)
	require.InDelta(t, 5, 100*float64(counts.GlobalControl)/n, 1)
	require.InDelta(t, 20, 100*float64(counts.Holdout)/float64(n-2-counts.GlobalControl), 2)

	b.requireRerunSame(t, c, job, counts, members)

	holdout := 10
	all, allJob := b.createNew(t, campaign.New{Name: "all", HoldoutPercent: &holdout, IncludeSuppressed: true})
	counts, err = b.svc.Freeze(ctx, all.ID, allJob.CreatedAt)
	require.NoError(t, err)
	require.Equal(t, int64(n), counts.Total())
	require.Zero(t, counts.Suppressed)
}

// requireRerunSame freezes c again and requires the same counts, the same
// members and each member in one row.
func (b *testBundle) requireRerunSame(t *testing.T, c campaign.Campaign, job jobs.Job, counts campaign.Counts, members map[string]string) {
	t.Helper()
	ctx := context.Background()
	again, err := b.svc.Freeze(ctx, c.ID, job.CreatedAt)
	require.NoError(t, err)
	require.Equal(t, counts, again)
	after, err := b.svc.Members(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, members, after)
	var total, distinct int64
	require.NoError(t, b.deps.DB.QueryRow(ctx, `SELECT count(*), count(DISTINCT customer_id) FROM campaign_members
		WHERE campaign_id = $1`, c.ID).Scan(&total, &distinct))
	require.Equal(t, int64(len(members)), total)
	require.Equal(t, total, distinct)
}

func TestCreateValidatesEveryField(t *testing.T) {
	bad := []struct {
		n     campaign.New
		field string
	}{
		{campaign.New{Name: ""}, "name"},
		{campaign.New{Name: "x", HoldoutPercent: ptr(51)}, "holdoutPercent"},
		{campaign.New{Name: "x", HoldoutPercent: ptr(-1)}, "holdoutPercent"},
		{campaign.New{Name: "x", WindowDays: ptr(0)}, "windowDays"},
		{campaign.New{Name: "x", WindowDays: ptr(366)}, "windowDays"},
		{campaign.New{Name: "x", Channel: "fax"}, "channel"},
		{campaign.New{Name: "x", Currency: "colones"}, "currency"},
	}
	for _, c := range bad {
		_, err := c.n.Validate()
		var verr *segment.ValidationError
		require.ErrorAs(t, err, &verr, c.field)
		require.Equal(t, c.field, verr.Errors[0].Field)
	}
	n, err := campaign.New{Name: " x "}.Validate()
	require.NoError(t, err)
	require.Equal(t, 10, *n.HoldoutPercent)
	require.Equal(t, 30, *n.WindowDays)
	require.Equal(t, "email", n.Channel)
}

func ptr[T any](v T) *T { return &v }
