package tasks

import (
	"time"

	"github.com/hibiken/asynq"
)

// Campaign task types.
const (
	TypeCampaignFreeze = "campaign:freeze"
)

// CampaignFreezePayload freezes the audience of a campaign.
type CampaignFreezePayload struct {
	JobPayload
	CampaignID string `json:"campaign_id"`
}

// A freeze is retried after a worker dies or the engine fails; each
// attempt writes the whole audience again in one transaction.
const (
	campaignFreezeTimeout = time.Hour
	campaignFreezeRetries = 10
)

// NewCampaignFreezeTask returns the task that freezes a campaign's audience.
func NewCampaignFreezeTask(p CampaignFreezePayload) (*asynq.Task, string, error) {
	return newTask(TypeCampaignFreeze, p, p.JobID+":campaign-freeze", asynq.MaxRetry(campaignFreezeRetries),
		asynq.Timeout(campaignFreezeTimeout))
}
