package scores

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCutsEqualRankRule proves the stored cuts score every value, in the
// population or not, as the rank rule does: random populations with many
// ties, every value from below the minimum to above the maximum.
func TestCutsEqualRankRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for trial := 0; trial < 500; trial++ {
		n := 1 + rng.IntN(60)
		spread := 1 + rng.IntN(20)
		pop := make([]int64, n)
		for i := range pop {
			pop[i] = int64(rng.IntN(spread))
		}
		cuts, ok := NewCuts(append([]int64(nil), pop...))
		require.True(t, ok)
		for v := int64(-2); v <= int64(spread)+2; v++ {
			var lower int64
			for _, u := range pop {
				if u < v {
					lower++
				}
			}
			want := RankScore(lower, int64(n))
			require.Equal(t, want, cuts.Score(v), "population %v value %d", pop, v)
			if want >= 2 {
				require.GreaterOrEqual(t, v, cuts.MinValue(want))
			}
		}
	}
	_, ok := NewCuts(nil)
	require.False(t, ok)
}

func TestGroupGrid(t *testing.T) {
	want := map[string][]string{ // rows R5..R1, columns F1..F5
		"5": {GroupNew, GroupPotentialLoyalists, GroupPotentialLoyalists, GroupChampions, GroupChampions},
		"4": {GroupPromising, GroupPotentialLoyalists, GroupPotentialLoyalists, GroupLoyal, GroupLoyal},
		"3": {GroupAboutToSleep, GroupAboutToSleep, GroupNeedAttention, GroupLoyal, GroupLoyal},
		"2": {GroupHibernating, GroupHibernating, GroupAtRisk, GroupAtRisk, GroupCantLose},
		"1": {GroupHibernating, GroupHibernating, GroupAtRisk, GroupAtRisk, GroupCantLose},
	}
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			require.Equal(t, want[string(rune('0'+r))][f-1], Group(r, f), "R%d F%d", r, f)
		}
	}
}

func TestRecencyDays(t *testing.T) {
	loc, err := time.LoadLocation("America/Costa_Rica") // UTC-6
	require.NoError(t, err)
	bd := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	// 03:00 UTC on the 10th is still the 9th in Costa Rica.
	require.Equal(t, int64(1), RecencyDays(time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC), bd, loc))
	require.Equal(t, int64(0), RecencyDays(time.Date(2026, 3, 10, 7, 0, 0, 0, time.UTC), bd, loc))
	require.Equal(t, int64(365), RecencyDays(time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC), bd, loc))
}
