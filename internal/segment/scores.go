package segment

import (
	"fmt"
	"strings"

	"github.com/reactivation/reactivation/internal/scores"
)

// normalizeScores checks the score fields of f (groups known, scores 1-5,
// P(alive) 0-1, min <= max), sets out's P(alive) bounds with -0 as 0, and
// returns the groups normalised: trimmed, lowercase, sorted, deduplicated.
func normalizeScores(p *problems, f Filter, out *Filter) StringList {
	for _, b := range []struct {
		field string
		v     *int64
	}{{"minRecencyScore", f.MinRecencyScore}, {"maxRecencyScore", f.MaxRecencyScore},
		{"minFrequencyScore", f.MinFrequencyScore}, {"minMonetaryScore", f.MinMonetaryScore}} {
		if b.v != nil && (*b.v < 1 || *b.v > scores.MaxScore) {
			p.add(b.field, "must be a score from 1 to %d", scores.MaxScore)
		}
	}
	if lo, hi := f.MinRecencyScore, f.MaxRecencyScore; lo != nil && hi != nil && *lo > *hi {
		p.add("minRecencyScore", "must not be greater than maxRecencyScore")
	}
	okP := true
	for _, b := range []struct {
		field string
		v     *float64
		dst   **float64
	}{{"minPAlive", f.MinPAlive, &out.MinPAlive}, {"maxPAlive", f.MaxPAlive, &out.MaxPAlive}} {
		if b.v == nil {
			continue
		}
		if !(*b.v >= 0 && *b.v <= 1) {
			p.add(b.field, "must be a probability from 0 to 1")
			okP = false
			continue
		}
		v := *b.v + 0
		*b.dst = &v
	}
	if okP && f.MinPAlive != nil && f.MaxPAlive != nil && *f.MinPAlive > *f.MaxPAlive {
		p.add("minPAlive", "must not be greater than maxPAlive")
	}
	return normalizeList(p, "rfmGroup", f.RFMGroup, func(v string) (string, string) {
		g := strings.ToLower(strings.TrimSpace(v))
		if !scores.IsGroup(g) {
			return "", fmt.Sprintf("unknown group %q (use %s)", v, strings.Join(scores.Groups, ", "))
		}
		return g, ""
	})
}
