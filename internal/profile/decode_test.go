package profile_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/jsonobj"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/profile/profiletest"
)

// TestDecodeFieldsIsUnmarshal: for random profiles, compact or indented,
// and random sets of fields (unknown names among them, none for all),
// DecodeFields decodes what json.Unmarshal decodes of the picked members.
func TestDecodeFieldsIsUnmarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	typical := profiletest.Typical()
	var keys []string
	require.NoError(t, jsonobj.Members(typical.AppendJSON(nil), func(k, _ []byte) { keys = append(keys, string(k)) }))
	keys = append(keys, "unknown", "TotalSpent")
	for range 20000 {
		p := profiletest.Profile(r)
		doc := p.AppendJSON(nil)
		var fields []string
		for _, k := range keys {
			if r.IntN(3) == 0 {
				fields = append(fields, k)
			}
		}
		if r.IntN(4) == 0 {
			fields = nil
		}
		picked := doc // no fields: all of them
		if len(fields) > 0 {
			var err error
			picked, err = jsonobj.Pick(doc, fields)
			require.NoError(t, err)
		}
		if r.IntN(2) == 0 { // as PostgreSQL's jsonb writes it back
			var indented bytes.Buffer
			require.NoError(t, json.Indent(&indented, doc, "", " "))
			doc = indented.Bytes()
		}
		var want profile.Profile
		wantErr := json.Unmarshal(picked, &want)
		got, err := profile.DecodeFields(doc, fields)
		if wantErr != nil { // amounts beyond what Cents reads back
			require.Error(t, err, "fields %v of %s", fields, doc)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, want, got, "fields %v of %s", fields, doc)
	}
}

// TestDecodeFieldRefusesWrongTypes: a value of the wrong type is an
// error naming the field, as json.Unmarshal refuses it.
func TestDecodeFieldRefusesWrongTypes(t *testing.T) {
	for key, v := range map[string]string{"name": `12`, "totalPurchases": `"x"`, "lastPurchaseAt": `"yesterday"`,
		"totalSpent": `"1.234"`, "pAlive": `"high"`, "products": `"a"`, "hasEmail": `1`} {
		var p profile.Profile
		err := profile.DecodeField(&p, key, []byte(v))
		require.ErrorContains(t, err, key, v)
		require.Error(t, json.Unmarshal([]byte(`{"`+key+`":`+v+`}`), &p), v)
	}
}
