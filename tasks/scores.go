package tasks

import (
	"time"

	"github.com/hibiken/asynq"
)

// TypeScoresFit computes a full sync's scores (RFM cuts and the BG/NBD fit
// per company) between its plan and its shards.
const TypeScoresFit = "scores:fit"

// ScoresFitPayload computes the scores of a full sync's generation; the
// shards are enqueued when they are stored.
type ScoresFitPayload struct {
	JobPayload
	Generation string `json:"generation"`
}

// NewScoresFitTask returns the task that fits a generation's scores.
func NewScoresFitTask(p ScoresFitPayload) (*asynq.Task, string, error) {
	return newTask(TypeScoresFit, p, p.JobID+":scores", asynq.MaxRetry(10), asynq.Timeout(30*time.Minute))
}
