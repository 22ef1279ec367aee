package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/campaign"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/profile"
)

// memberRows is a campaign.Rows over (campaign, customer, group) rows.
type memberRows struct {
	rows [][]any
	i    int
}

func (m *memberRows) Next() bool             { m.i++; return m.i <= len(m.rows) }
func (m *memberRows) Values() ([]any, error) { return m.rows[m.i-1], nil }
func (m *memberRows) Err() error             { return nil }

// TestCampaignsStore: a campaign round-trips; an unknown one is NotFound
// and the same id twice a Conflict (the driver's errors translated here);
// an audience copied inside a transaction that fails is not kept, one that
// commits is, with its counts; an unreachable database is Unavailable.
func TestCampaignsStore(t *testing.T) {
	b := setup(t)
	store := postgres.NewCampaigns(b.pool)
	sent := time.Date(2026, 10, 1, 15, 0, 0, 0, time.UTC)
	cost := profile.Cents(150000_00)
	c := campaign.Campaign{ID: uuid.NewString(), CompanyID: "COMP001", Name: "win back", Filter: []byte(`{"companyId":"COMP001"}`),
		HoldoutPercent: 10, WindowDays: 30, SentAt: &sent, Currency: "CRC", Channel: "email", JobID: b.job(t, "COMP001"),
		CreatedBy: "k1", CreatedAt: time.Now().UTC().Truncate(time.Microsecond), Cost: &cost}
	got, err := store.InsertCampaign(b.ctx, c)
	require.NoError(t, err)
	require.Equal(t, campaign.Freezing, got.State)
	require.Equal(t, sent, got.SentAt.UTC())
	require.NotNil(t, got.Window)
	require.Equal(t, cost, *got.Cost)

	_, err = store.InsertCampaign(b.ctx, c)
	require.True(t, errs.Is(err, errs.Conflict), "same id twice: %v", err)
	_, err = store.Campaign(b.ctx, uuid.NewString())
	require.True(t, errs.Is(err, errs.NotFound), "unknown: %v", err)
	p, err := store.ControlGroup(b.ctx, "COMP001")
	require.NoError(t, err)
	require.Zero(t, p, "no control group")

	rows := [][]any{{c.ID, "C1", campaign.Treatment}, {c.ID, "C2", campaign.Holdout}}
	broke := errors.New("scan broke")
	err = store.InTx(b.ctx, func(ctx context.Context) error {
		_, err := store.CopyAudience(ctx, &memberRows{rows: rows})
		require.NoError(t, err)
		return broke
	})
	require.ErrorIs(t, err, broke)
	members, err := store.Members(b.ctx, c.ID)
	require.NoError(t, err)
	require.Empty(t, members, "a failed transaction keeps no member")

	counts := campaign.Counts{Treatment: 1, Holdout: 1}
	require.NoError(t, store.InTx(b.ctx, func(ctx context.Context) error {
		if err := store.LockCampaign(ctx, c.ID); err != nil {
			return err
		}
		if _, err := store.CopyAudience(ctx, &memberRows{rows: rows}); err != nil {
			return err
		}
		return store.MarkFrozen(ctx, c.ID, 0, counts)
	}))
	members, err = store.Members(b.ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"C1": campaign.Treatment, "C2": campaign.Holdout}, members)
	got, err = store.Campaign(b.ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.Ready, got.State)
	require.Equal(t, counts, got.Counts)

	b.proxy.Cut()
	_, err = postgres.NewCampaigns(b.cut).Campaign(b.ctx, c.ID)
	require.True(t, errs.Is(err, errs.Unavailable), "cut: %v", err)
	b.proxy.Restore()
}
