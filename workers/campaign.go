package workers

import (
	"context"
	"errors"

	"github.com/hibiken/asynq"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/tasks"
)

// registerCampaigns registers the audience freeze.
func (w *Worker) registerCampaigns(mux *asynq.ServeMux) {
	svc := w.deps.Campaigns
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
