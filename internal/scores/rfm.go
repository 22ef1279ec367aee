// Package scores computes customer scores per company: RFM scores 1-5 by a
// rank rule anyone can reproduce in SQL, a named group from the RF grid,
// and a BG/NBD model (Fader, Hardie and Lee 2005) giving each customer's
// probability of still being active and expected purchases.
//
// Scores are computed at a full sync (thresholds and model parameters per
// company, stored with the generation) and applied to each profile with
// those stored values, so every document of a generation is scored by the
// same rule, including the ones incremental syncs rewrite.
package scores

import (
	"slices"
	"time"
)

// MaxScore is the highest score of a dimension; scores run 1..MaxScore.
const MaxScore = 5

// Cuts are what scoring a value against a company's distribution needs.
// The rule is: for a value v among n values, rank(v) = 1 + the number of
// values lower than v, and score = 1 + floor(5*(rank-1)/n). Because the
// score depends on v only through count-lower, which is a step function of
// v that steps just above each population value, the score of any value v
// is 1 + the number of k in 2..5 with v > Cuts[k-2], where Cuts[k-2] is the
// smallest population value u whose count of values <= u reaches
// ceil(n*(k-1)/5). That holds for values outside the population too, so a
// customer scored later (incremental) gets the score its value would have
// had in the distribution. Cuts are nondecreasing.
type Cuts [MaxScore - 1]int64

// NewCuts returns the cuts of a population of values (any order; values
// is sorted in place). An empty population has no cuts; ok is false.
func NewCuts(values []int64) (c Cuts, ok bool) {
	n := int64(len(values))
	if n == 0 {
		return c, false
	}
	slices.Sort(values)
	for k := 2; k <= MaxScore; k++ {
		need := ceilDiv(n*int64(k-1), MaxScore) // count-lower needed for score >= k
		// values[need-1] is the smallest u with #(values <= u) >= need:
		// #(<= values[i]) >= i+1 and the values before it are <= it.
		c[k-2] = values[need-1]
	}
	return c, true
}

// Score returns the score of v: 1 + the number of cuts below v.
func (c Cuts) Score(v int64) int {
	s := 1
	for _, cut := range c {
		if v > cut {
			s++
		}
	}
	return s
}

// MinValue returns the smallest integer value that scores at least k
// (2..5): the cut for k plus one.
func (c Cuts) MinValue(k int) int64 { return c[k-2] + 1 }

// RankScore is the rule itself, for a value v among population values
// given as count-lower (values lower than v) out of n. Tests and docs use
// it as the definition Cuts reproduces. A value outside the population
// above all of it (count-lower n, possible only for a customer scored
// after the thresholds were computed) scores MaxScore.
func RankScore(countLower, n int64) int {
	return min(MaxScore, 1+int(MaxScore*countLower/n))
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// Groups of the RF grid, and prospects for customers with no purchase.
const (
	GroupChampions          = "champions"
	GroupLoyal              = "loyal"
	GroupPotentialLoyalists = "potential_loyalists"
	GroupNew                = "new"
	GroupPromising          = "promising"
	GroupNeedAttention      = "need_attention"
	GroupAboutToSleep       = "about_to_sleep"
	GroupAtRisk             = "at_risk"
	GroupCantLose           = "cant_lose"
	GroupHibernating        = "hibernating"
	GroupProspects          = "prospects"
)

// Groups lists every group name, in grid order (best first), prospects last.
var Groups = []string{
	GroupChampions, GroupLoyal, GroupPotentialLoyalists, GroupNew, GroupPromising,
	GroupNeedAttention, GroupAboutToSleep, GroupAtRisk, GroupCantLose, GroupHibernating,
	GroupProspects,
}

// IsGroup reports whether name is one of Groups.
func IsGroup(name string) bool { return slices.Contains(Groups, name) }

// Group returns the RF grid's group of a recency and a frequency score
// (each 1..5):
//
//	champions R5 F4-5; loyal R3-4 F4-5; potential_loyalists R4-5 F2-3;
//	new R5 F1; promising R4 F1; need_attention R3 F3; about_to_sleep R3 F1-2;
//	at_risk R1-2 F3-4; cant_lose R1-2 F5; hibernating R1-2 F1-2.
func Group(r, f int) string {
	switch {
	case r == 5 && f >= 4:
		return GroupChampions
	case r >= 3 && f >= 4:
		return GroupLoyal
	case r >= 4 && f >= 2:
		return GroupPotentialLoyalists
	case r == 5:
		return GroupNew
	case r == 4:
		return GroupPromising
	case r == 3 && f == 3:
		return GroupNeedAttention
	case r == 3:
		return GroupAboutToSleep
	case f == 5:
		return GroupCantLose
	case f >= 3:
		return GroupAtRisk
	default:
		return GroupHibernating
	}
}

// RecencyDays counts calendar days in loc from the local date of last to
// the business date (a date in loc, as midnight UTC of that date or any
// instant of it: only its year, month and day are read).
func RecencyDays(last time.Time, businessDate time.Time, loc *time.Location) int64 {
	y, m, d := last.In(loc).Date()
	from := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	by, bm, bd := businessDate.Date()
	to := time.Date(by, bm, bd, 0, 0, 0, 0, time.UTC)
	return int64(to.Sub(from).Hours() / 24)
}

// BusinessDate is the date of t in loc, as midnight UTC of that date.
func BusinessDate(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
