package segment_test

import (
	"testing"

	"github.com/reactivation/reactivation/internal/segment"
)

func TestDecodeScoreFields(t *testing.T) {
	f, err := segment.Decode([]byte(`{"rfmGroup":["At_Risk "," champions","at_risk"],"minRecencyScore":2,"maxRecencyScore":4,
		"minFrequencyScore":3,"minMonetaryScore":5,"minPAlive":-0,"maxPAlive":0.75}`))
	noErr(t, err)
	equal(t, segment.StringList{"at_risk", "champions"}, f.RFMGroup)
	equal(t, int64(2), *f.MinRecencyScore)
	equal(t, 0.75, *f.MaxPAlive)
	equal(t, `{"rfmGroup":["at_risk","champions"],"minRecencyScore":2,"maxRecencyScore":4,"minFrequencyScore":3,"minMonetaryScore":5,"minPAlive":0,"maxPAlive":0.75}`,
		string(f.Canonical()))
	f, err = segment.Decode([]byte(`{"rfmGroup":"loyal"}`))
	noErr(t, err)
	equal(t, segment.StringList{"loyal"}, f.RFMGroup)

	for _, c := range []struct {
		body  string
		field string
	}{
		{`{"rfmGroup":"vip"}`, "rfmGroup"},
		{`{"rfmGroup":[1]}`, "rfmGroup"},
		{`{"minRecencyScore":0}`, "minRecencyScore"},
		{`{"maxRecencyScore":6}`, "maxRecencyScore"},
		{`{"minRecencyScore":4,"maxRecencyScore":3}`, "minRecencyScore"},
		{`{"minFrequencyScore":2.5}`, "minFrequencyScore"},
		{`{"minMonetaryScore":"3"}`, "minMonetaryScore"},
		{`{"minPAlive":1.01}`, "minPAlive"},
		{`{"maxPAlive":-0.1}`, "maxPAlive"},
		{`{"minPAlive":0.6,"maxPAlive":0.5}`, "minPAlive"},
		{`{"minPAlive":"0.5"}`, "minPAlive"},
	} {
		_, err := segment.Decode([]byte(c.body))
		errs := fieldErrors(t, err)
		equal(t, 1, len(errs), c.body)
		equal(t, c.field, errs[0].Field, c.body)
	}
	for _, s := range []string{"pAlive", "pAlive:asc", "expectedPurchases90d"} {
		got, err := segment.ParseSort(s)
		noErr(t, err, s)
		equal(t, s != "pAlive:asc", got.Desc, s)
	}
}
