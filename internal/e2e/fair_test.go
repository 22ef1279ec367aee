package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/jobs"
)

// TestFairCapSurvivesAKilledWorker: company A is capped at one job in
// flight. The worker running A's first export is SIGKILLed midway; while
// asynq holds the dead worker's lease, A's other exports stay held (the cap
// is still A's first job's); once asynq hands the task back to a surviving
// worker, it finishes and the next one is admitted. From the job rows, no
// two of A's jobs ever ran at once, and every one succeeded with a
// complete file.
func TestFairCapSurvivesAKilledWorker(t *testing.T) {
	b := setup(t, demoCustomers, func(c *config.Config) { c.TenantMaxInFlight = 1 })
	victim := b.slowWorkerAfterSync(t)

	var ids []string
	for range 3 {
		ids = append(ids, b.startExport(t, `{"companyId":"COMP001"}`, export.Options{Format: export.FormatNDJSON}))
	}
	waitProgress(t, b.deps.Jobs, ids[0], 1, time.Minute)
	ctx := context.Background()
	for i, id := range ids[1:] {
		j, err := b.deps.Jobs.GetAny(ctx, id)
		require.NoError(t, err)
		pos, waiting, err := b.deps.Dispatcher.Fair().Position(ctx, j)
		require.NoError(t, err)
		require.True(t, waiting, "A's later exports wait behind its cap")
		require.Equal(t, i+1, pos.QueuePosition)
	}
	require.NoError(t, victim.Kill())
	<-victim.Done()

	start(t, b.cfg, "worker")
	// Until asynq's lease on the dead worker's task expires, the first job
	// keeps A's only slot.
	time.Sleep(5 * time.Second)
	for _, id := range ids[1:] {
		j, err := b.deps.Jobs.GetAny(ctx, id)
		require.NoError(t, err)
		require.Equal(t, jobs.Queued, j.State, "the cap is still held by the killed worker's job")
	}
	for _, id := range ids {
		j := waitJob(t, b.deps.Jobs, id, 4*time.Minute)
		require.Equal(t, jobs.Succeeded, j.State, j.Error)
		_, raw := b.download(t, id)
		_, total := b.engineProfiles(t, `{"companyId":"COMP001"}`, j.CreatedAt)
		require.Equal(t, int(total), countLines(raw), "a complete file")
	}
	type span struct{ start, end time.Time }
	var spans []span
	for _, id := range ids {
		j, err := b.deps.Jobs.GetAny(ctx, id)
		require.NoError(t, err)
		spans = append(spans, span{*j.StartedAt, *j.FinishedAt})
	}
	slices.SortFunc(spans, func(x, y span) int { return x.start.Compare(y.start) })
	for i := 1; i < len(spans); i++ {
		require.False(t, spans[i].start.Before(spans[i-1].end), "two of A's jobs ran at once under a cap of 1")
	}
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
