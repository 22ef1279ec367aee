package export

import (
	"strconv"

	"github.com/reactivation/reactivation/internal/profile"
)

// The score columns (internal/scores): empty in CSV and null in JSON when
// the customer has no such score.
func init() {
	columns["recencyScore"] = scoreColumn(func(p *profile.Profile) *int { return p.RecencyScore })
	columns["frequencyScore"] = scoreColumn(func(p *profile.Profile) *int { return p.FrequencyScore })
	columns["monetaryScore"] = scoreColumn(func(p *profile.Profile) *int { return p.MonetaryScore })
	columns["rfmGroup"] = textColumn(func(p *profile.Profile) string { return p.RFMGroup })
	columns["pAlive"] = floatColumn(func(p *profile.Profile) *float64 { return p.PAlive })
	columns["expectedPurchases90d"] = floatColumn(func(p *profile.Profile) *float64 { return p.ExpectedPurchases90d })
}

func scoreColumn(get func(*profile.Profile) *int) column {
	return optionalColumn(get, func(dst []byte, v int) []byte { return strconv.AppendInt(dst, int64(v), 10) })
}

// floatColumn writes the shortest decimal that reads back as the same float.
func floatColumn(get func(*profile.Profile) *float64) column {
	return optionalColumn(get, func(dst []byte, v float64) []byte { return strconv.AppendFloat(dst, v, 'g', -1, 64) })
}

// optionalColumn renders a value that may be absent, the same text in CSV
// and JSON.
func optionalColumn[T any](get func(*profile.Profile) *T, appendValue func([]byte, T) []byte) column {
	return newColumn(get, func(v *T) string {
		if v == nil {
			return ""
		}
		return string(appendValue(nil, *v))
	}, func(dst []byte, v *T) []byte {
		if v == nil {
			return append(dst, "null"...)
		}
		return appendValue(dst, *v)
	})
}
