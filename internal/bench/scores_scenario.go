package bench

import (
	"context"
	"errors"
	"fmt"
	"time"
)

func init() {
	Register(Scenario{
		Name: "scores",
		Description: "the cost of customer scores: full syncs without and with scores, alternated twice in one run " +
			"(without, with, without, with), and the BG/NBD fit of the largest company",
		Run: runScores,
	})
}

// runScores times full syncs without and with scores in turn, twice, so
// a machine whose load drifts during the run weighs on both sides alike;
// the ratio is of the sums. It is the sync scenario's scores figures
// without its floors (half an hour at 800k).
func runScores(ctx context.Context, env Env, r *Report) error {
	if env.Config.ElasticsearchURL == "" {
		return errors.New("the scores scenario measures full syncs on the search engine: set ELASTICSEARCH_URL")
	}
	r.Engine = EngineElastic
	cfg, d, err := openSyncData(ctx, env)
	if err != nil {
		return err
	}
	defer d.Close()
	scored := cfg
	scored.ScoresEnabled = true
	var without, with time.Duration
	var jobID string
	for round := 1; round <= 2; round++ {
		id, w0, w1, err := syncsWithoutAndWith(ctx, env, d, cfg, scored)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Out, "  round %d: without %.1f s, with %.1f s (%.3fx)\n", round, w0.Seconds(), w1.Seconds(), w1.Seconds()/w0.Seconds())
		without, with, jobID = without+w0, with+w1, id
	}
	return reportScores(ctx, env, d, jobID, with, without, r)
}
