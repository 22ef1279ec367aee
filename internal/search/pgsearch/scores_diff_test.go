package pgsearch_test

import (
	"encoding/json"
	"math/rand/v2"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/scores"
)

// scoreSorts are the score sorts the differential test adds to its own.
var scoreSorts = []string{"pAlive:desc", "pAlive:asc", "expectedPurchases90d:desc", "expectedPurchases90d:asc"}

// pAliveValues mixes ties, the bounds and values one ulp apart.
var pAliveValues = []float64{0, 0.25, 0.5, 0.5000000000000001, 0.4999999999999999, 0.75, 1}

// addScores gives p random scores as a generation would: none for a
// customer without purchases (a prospect), and no P(alive) for company C3,
// whose model "did not fit".
func addScores(r *rand.Rand, p *profile.Profile) {
	if p.TotalPurchases == 0 {
		p.RFMGroup = scores.GroupProspects
		return
	}
	rs, fs, ms := 1+r.IntN(5), 1+r.IntN(5), 1+r.IntN(5)
	p.RecencyScore, p.FrequencyScore, p.MonetaryScore = &rs, &fs, &ms
	p.RFMGroup = scores.Group(rs, fs)
	if p.CompanyID == "C3" {
		return
	}
	alive := 1.0
	if p.TotalPurchases > 1 {
		if r.IntN(2) == 0 {
			alive = pick(r, pAliveValues)
		} else {
			alive = r.Float64()
		}
	}
	expected := r.Float64() * 5
	if r.IntN(4) == 0 {
		expected = float64(r.IntN(3))
	}
	p.PAlive, p.ExpectedPurchases90d = &alive, &expected
}

// addScoreFilter adds random score fields to a filter body.
func addScoreFilter(r *rand.Rand, body []byte) []byte {
	f := map[string]any{}
	if err := json.Unmarshal(body, &f); err != nil {
		panic(err)
	}
	maybe := func(field string, v func() any) {
		if r.IntN(6) == 0 {
			f[field] = v()
		}
	}
	maybe("rfmGroup", func() any {
		if r.IntN(2) == 0 {
			return pick(r, scores.Groups)
		}
		return []string{pick(r, scores.Groups), pick(r, scores.Groups)}
	})
	score := func() any { return 1 + r.IntN(5) }
	maybe("minRecencyScore", score)
	maybe("maxRecencyScore", score)
	if lo, ok := f["minRecencyScore"].(int); ok {
		if hi, ok := f["maxRecencyScore"].(int); ok && hi < lo {
			f["minRecencyScore"], f["maxRecencyScore"] = hi, lo
		}
	}
	maybe("minFrequencyScore", score)
	maybe("minMonetaryScore", score)
	maybe("minPAlive", func() any { return pick(r, pAliveValues) })
	maybe("maxPAlive", func() any { return pick(r, pAliveValues) })
	if lo, ok := f["minPAlive"].(float64); ok {
		if hi, ok := f["maxPAlive"].(float64); ok && hi < lo {
			f["minPAlive"], f["maxPAlive"] = hi, lo
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	return b
}
