package e2e

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/export"
)

// TestTwoHundredExportsSurviveAKilledWorker: 200 exports of three
// companies are queued behind two worker processes; once 20 are done, the
// worker whose engine requests are slowed (so it is always mid-export) is
// SIGKILLed, and restarted. asynq hands its tasks back when their leases
// expire. Every export ends succeeded, each with one audit entry and one
// complete file: as many rows as its company has customers, its chunks
// those of one attempt, its checksum right (download). At least one export
// was taken over (a second attempt), so the kill did interrupt work.
func TestTwoHundredExportsSurviveAKilledWorker(t *testing.T) {
	b := setup(t, 3000, nil)
	b.syncWithWorker(t) // its worker keeps running and takes over
	victim, searching := b.slowVictim(t)
	ctx := context.Background()
	companies := []string{"COMP001", "COMP002", "COMP003"}
	want := map[string]int64{}
	for _, c := range companies {
		_, total := b.engineProfiles(t, fmt.Sprintf(`{"companyId":%q}`, c), time.Now())
		require.Positive(t, total)
		want[c] = total
	}
	var ids []string
	company := map[string]string{}
	for i := range 200 {
		c := companies[i%3]
		id := b.startExport(t, fmt.Sprintf(`{"companyId":%q}`, c), export.Options{Format: export.FormatNDJSON})
		ids = append(ids, id)
		company[id] = c
	}
	succeeded := func() int {
		var n int
		require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT count(*) FROM jobs WHERE type = 'export' AND state = 'succeeded'").Scan(&n))
		return n
	}
	deadline := time.Now().Add(5 * time.Minute)
	for succeeded() < 20 {
		require.True(t, time.Now().Before(deadline), "20 exports did not finish in time")
		time.Sleep(200 * time.Millisecond)
	}
	// Kill while the victim is reading an export's pages: exports got
	// fast enough that a kill timed by the others' progress alone could
	// land between two of the victim's exports.
	for searching.Load() == 0 {
		require.True(t, time.Now().Before(deadline), "the slowed worker never read an export's pages")
		time.Sleep(10 * time.Millisecond)
	}
	var running int
	require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT count(*) FROM jobs WHERE type = 'export' AND state = 'running'").Scan(&running))
	require.NoError(t, victim.Kill())
	<-victim.Done()
	t.Logf("worker %d SIGKILLed with %d exports done and %d running", victim.Pid(), succeeded(), running)
	start(t, b.cfg, "worker")

	for _, id := range ids {
		e := b.requireExportedOnce(t, id, 6*time.Minute)
		require.Equal(t, want[company[id]], e.Progress.Rows, "export %s: every customer of %s", id, company[id])
	}
	var audited, retaken int
	require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT count(DISTINCT export_id) FROM export_audit").Scan(&audited))
	require.Equal(t, 200, audited)
	require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT count(*) FROM exports WHERE attempt > 1").Scan(&retaken))
	t.Logf("%d exports were started over after the kill", retaken)
	require.Positive(t, retaken, "the kill interrupted at least one export, which another worker took over")
}

// slowVictim starts a worker whose every engine request takes 200 ms
// more, so it is in the middle of an export whenever it is killed.
// searching counts its search requests in flight.
func (b *testBundle) slowVictim(t *testing.T) (victim *process, searching *atomic.Int64) {
	t.Helper()
	slow := b.cfg
	slow.ElasticsearchURL, searching = slowEngineSearches(t, b.cfg.ElasticsearchURL, 200*time.Millisecond)
	return start(t, slow, "worker"), searching
}
