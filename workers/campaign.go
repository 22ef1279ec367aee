package workers

import (
	"context"
	"errors"

	"github.com/hibiken/asynq"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/campaign"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/tasks"
)

// NewCampaignService returns the campaign service over deps, configured
// from them.
func NewCampaignService(d *app.Deps) *campaign.Service {
	return campaign.NewService(campaign.Params{DB: d.DB, Source: d.Source, Engine: d.Engine, Dispatcher: d.Dispatcher,
		Log: d.Log, Config: campaign.Config{Location: d.Config.Location}})
}

// registerCampaigns registers the audience freeze.
func (w *Worker) registerCampaigns(mux *asynq.ServeMux) {
	svc := NewCampaignService(w.deps)
	mux.HandleFunc(tasks.TypeCampaignFreeze, func(ctx context.Context, t *asynq.Task) error {
		var p tasks.CampaignFreezePayload
		if err := tasks.Decode(t, &p); err != nil {
			return err
		}
		job, err := w.deps.Jobs.GetAny(ctx, p.JobID)
		if err != nil {
			return err
		}
		counts, err := svc.Freeze(ctx, p.CampaignID, job.CreatedAt)
		if err != nil {
			if isFinal(ctx, err) || errs.Is(err, errs.Invalid) {
				if ferr := svc.FailFreeze(context.WithoutCancel(ctx), p.CampaignID); ferr != nil {
					return errors.Join(err, ferr)
				}
			}
			return err
		}
		_, err = w.deps.Jobs.Succeed(ctx, p.JobID, map[string]any{"campaignId": p.CampaignID, "counts": counts})
		return err
	})
}
