package segment_test

import (
	"strings"
	"testing"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/segment"
)

func TestDecodeValid(t *testing.T) {
	f, err := segment.Decode([]byte(`{
		"gender": "Mujer", "city": ["SAN  José", "san jose", "Cartago"],
		"minDaysSinceLastPurchase": 90, "maxDaysSinceLastPurchase": 365,
		"lastPurchaseFrom": "2023-01-01", "lastPurchaseTo": "2024-12-31",
		"minTotalPurchases": 1, "maxTotalPurchases": 10,
		"minTotalSpent": 10.5, "maxTotalSpent": 1e3,
		"minAverageTicket": 0, "maxAverageTicket": "ignored-null-below",
		"products": "Café Negro", "ingredients": ["Harina"],
		"favoriteProducts": [], "favoriteIngredients": null,
		"hasEmail": true, "hasPhone": false, "neverPurchased": false,
		"q": "  María   8888-1234 ", "companyId": "COMP001"
	}`))
	equal(t, []segment.FieldError{{Field: "maxAverageTicket", Message: "must be a number"}}, fieldErrors(t, err))

	f, err = segment.Decode([]byte(`{
		"gender": "Mujer", "city": ["SAN  José", "san jose", "Cartago"],
		"minDaysSinceLastPurchase": 90, "maxDaysSinceLastPurchase": 365,
		"lastPurchaseFrom": "2023-01-01", "lastPurchaseTo": "2024-12-31",
		"minTotalPurchases": 1, "maxTotalPurchases": 10,
		"minTotalSpent": 10.5, "maxTotalSpent": 1e3,
		"minAverageTicket": 0, "maxAverageTicket": null,
		"products": "Café Negro", "ingredients": ["Harina"],
		"favoriteProducts": [], "favoriteIngredients": null,
		"hasEmail": true, "hasPhone": false, "neverPurchased": false,
		"q": "  María   8888-1234 ", "companyId": "COMP001"
	}`))
	noErr(t, err)
	equal(t, segment.StringList{"female"}, f.Gender)
	equal(t, segment.StringList{"cartago", "san jose"}, f.City)
	equal(t, segment.StringList{"cafe negro"}, f.Products)
	equal(t, segment.StringList(nil), f.FavoriteProducts) // an empty list asks for nothing
	equal(t, segment.StringList(nil), f.FavoriteIngredients)
	equal(t, true, f.MaxAverageTicket == nil)
	equal(t, profile.Cents(1050), *f.MinTotalSpent)
	equal(t, profile.Cents(100000), *f.MaxTotalSpent)
	equal(t, "maria 8888-1234", *f.Q)
	equal(t, []string{"88881234", "maria"}, f.QueryTokens())
	equal(t, "COMP001", *f.CompanyID)

	// Normalising again changes nothing, and the canonical form is stable.
	again, err := f.Normalize()
	noErr(t, err)
	equal(t, f, again)
	equal(t, string(f.Canonical()), string(again.Canonical()))
	var round segment.Filter
	noErr(t, round.UnmarshalJSON(f.Canonical()))
	equal(t, f, round)
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       []segment.FieldError
	}{
		{"not an object", `[1]`, []segment.FieldError{{"", "body must be one JSON object"}}},
		{"malformed", `{"gender":`, []segment.FieldError{{"", "body must be one JSON object"}}},
		{"trailing data", `{} {}`, []segment.FieldError{{"", "body must be one JSON object"}}},
		{"unknown field", `{"Gender":"f","colour":"red"}`, []segment.FieldError{{"Gender", "unknown field"}, {"colour", "unknown field"}}},
		{"duplicate field", `{"q":"a","q":"b"}`, []segment.FieldError{{"q", "duplicate field"}}},
		{"string for number", `{"minTotalSpent":"10"}`, []segment.FieldError{{"minTotalSpent", "must be a number"}}},
		{"float for integer", `{"minTotalPurchases":1.5}`, []segment.FieldError{{"minTotalPurchases", "must be an integer"}}},
		{"number for string", `{"q":5}`, []segment.FieldError{{"q", "must be a string"}}},
		{"number in list", `{"city":["a",1]}`, []segment.FieldError{{"city", "must be a string or a list of strings"}}},
		{"null in list", `{"products":[null]}`, []segment.FieldError{{"products", "must be a string or a list of strings"}}},
		{"string for bool", `{"hasEmail":"true"}`, []segment.FieldError{{"hasEmail", "must be true or false"}}},
		{"three decimals", `{"maxAverageTicket":1.005}`, []segment.FieldError{{"maxAverageTicket", "must be an amount with at most two decimal places"}}},
		{"negative", `{"minDaysSinceLastPurchase":-1,"maxTotalSpent":-0.01}`, []segment.FieldError{
			{"minDaysSinceLastPurchase", "must not be negative"}, {"maxTotalSpent", "must not be negative"}}},
		{"too many days", `{"maxDaysSinceLastPurchase":100001}`, []segment.FieldError{{"maxDaysSinceLastPurchase", "must be at most 100000"}}},
		{"too much money", `{"minTotalSpent":1000000000000}`, []segment.FieldError{{"minTotalSpent", "must be at most 999999999999.99"}}},
		{"min over max", `{"minTotalPurchases":5,"maxTotalPurchases":4,"minTotalSpent":2,"maxTotalSpent":1.99,"minAverageTicket":1,"maxAverageTicket":1,"minDaysSinceLastPurchase":30,"maxDaysSinceLastPurchase":29}`,
			[]segment.FieldError{
				{"minDaysSinceLastPurchase", "must not be greater than maxDaysSinceLastPurchase"},
				{"minTotalPurchases", "must not be greater than maxTotalPurchases"},
				{"minTotalSpent", "must not be greater than maxTotalSpent"}}},
		{"bad dates", `{"lastPurchaseFrom":"2024-1-05","lastPurchaseTo":"2024-02-30"}`, []segment.FieldError{
			{"lastPurchaseFrom", "must be a date as YYYY-MM-DD"}, {"lastPurchaseTo", "must be a date as YYYY-MM-DD"}}},
		{"dates reversed", `{"lastPurchaseFrom":"2024-02-02","lastPurchaseTo":"2024-02-01"}`, []segment.FieldError{
			{"lastPurchaseFrom", "must not be after lastPurchaseTo"}}},
		{"unknown gender", `{"gender":"x"}`, []segment.FieldError{{"gender", `unknown gender "x" (use female, male, other or unknown, or mujer, hombre, f, m...)`}}},
		{"empty gender", `{"gender":" "}`, []segment.FieldError{{"gender", `unknown gender " " (use female, male, other or unknown, or mujer, hombre, f, m...)`}}},
		{"empty item", `{"ingredients":["ok","  "]}`, []segment.FieldError{{"ingredients", "items must not be empty"}}},
		{"long item", `{"favoriteProducts":["` + strings.Repeat("é", 201) + `"]}`, []segment.FieldError{{"favoriteProducts", "must be at most 200 characters"}}},
		{"long list", `{"favoriteIngredients":[` + strings.Repeat(`"a",`, 100) + `"a"]}`, []segment.FieldError{{"favoriteIngredients", "must have at most 100 items"}}},
		{"long q", `{"q":"` + strings.Repeat("a", 201) + `"}`, []segment.FieldError{{"q", "must be at most 200 characters"}}},
		{"empty company", `{"companyId":""}`, []segment.FieldError{{"companyId", "must not be empty"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := segment.Decode([]byte(tt.body))
			equal(t, tt.want, fieldErrors(t, err))
		})
	}
}

func TestGenderAliases(t *testing.T) {
	for want, spellings := range map[string][]string{
		"female":  {"mujer", "Female", "F", "femenino", "FEM", "Mújer"},
		"male":    {"hombre", "male", "m", "Masculino", "masc"},
		"other":   {"other", "OTHER"},
		"unknown": {"unknown"},
	} {
		for _, s := range spellings {
			f, err := segment.Decode([]byte(`{"gender":"` + s + `"}`))
			noErr(t, err, s)
			equal(t, segment.StringList{want}, f.Gender, s)
		}
	}
}

func TestNeverPurchasedWithPurchaseRanges(t *testing.T) {
	// Contradictory, but allowed: it simply matches nothing.
	_, err := segment.Decode([]byte(`{"neverPurchased":true,"minTotalPurchases":3,"maxDaysSinceLastPurchase":5}`))
	noErr(t, err)
}

func TestDecodeSearchRequest(t *testing.T) {
	req, err := segment.DecodeSearchRequest([]byte(`{"gender":"mujer","city":"San José","minDaysSinceLastPurchase":90}`))
	noErr(t, err)
	equal(t, segment.DefaultSort, req.Sort)
	equal(t, segment.DefaultSize, req.Size)
	equal(t, segment.StringList{"san jose"}, req.Filter.City)

	req, err = segment.DecodeSearchRequest([]byte(`{"sort":"name","size":100}`))
	noErr(t, err)
	equal(t, segment.Sort{Field: "name"}, req.Sort)
	equal(t, 100, req.Size)

	req, err = segment.DecodeSearchRequest([]byte(`{"sort":"totalSpent:asc","cursor":"` +
		segment.EncodeCursor(segment.Sort{Field: "totalSpent"}, []any{1, "c1"}) + `"}`))
	noErr(t, err)
	equal(t, segment.Sort{Field: "totalSpent"}, req.Sort)

	tests := []struct {
		name, body string
		want       []segment.FieldError
	}{
		{"size zero", `{"size":0}`, []segment.FieldError{{"size", "must be between 1 and 100"}}},
		{"size large", `{"size":101}`, []segment.FieldError{{"size", "must be between 1 and 100"}}},
		{"size huge", `{"size":1e30}`, []segment.FieldError{{"size", "must be an integer"}}},
		{"sort field", `{"sort":"email"}`, []segment.FieldError{{"sort", `unknown sort field "email" (use lastPurchaseAt, totalSpent, totalPurchases, averageTicket, name, pAlive or expectedPurchases90d)`}}},
		{"sort direction", `{"sort":"name:up"}`, []segment.FieldError{{"sort", `direction must be asc or desc, as in "lastPurchaseAt:desc"`}}},
		{"cursor garbage", `{"cursor":"%%%"}`, []segment.FieldError{{"cursor", "is not a cursor this search returned"}}},
		{"cursor other sort", `{"cursor":"` + segment.EncodeCursor(segment.DefaultSort, []any{1, "a"}) + `","sort":"name"}`,
			[]segment.FieldError{{"cursor", `was made for sort "lastPurchaseAt:desc", not "name:asc"`}}},
		{"filter and options", `{"size":"9","minTotalSpent":true,"filter":{}}`, []segment.FieldError{
			{"filter", "unknown field"}, {"minTotalSpent", "must be a number"}, {"size", "must be an integer"}}},
		{"validation and size", `{"size":200,"minTotalSpent":3,"maxTotalSpent":2}`, []segment.FieldError{
			{"minTotalSpent", "must not be greater than maxTotalSpent"}, {"size", "must be between 1 and 100"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := segment.DecodeSearchRequest([]byte(tt.body))
			equal(t, tt.want, fieldErrors(t, err))
		})
	}
}

func TestCompanyPinning(t *testing.T) {
	f, err := segment.Decode([]byte(`{"companyId":"OTHER"}`))
	noErr(t, err)
	f.PinCompany("COMP001")
	equal(t, "COMP001", *f.CompanyID)
	noErr(t, f.RequireCompany())

	equal(t, "companyId", fieldErrors(t, segment.Filter{}.RequireCompany())[0].Field)
}

func TestCanonicalIgnoresSpellingAndOrder(t *testing.T) {
	a, err := segment.Decode([]byte(`{"city":["San José","Cartago"],"gender":"mujer","minTotalSpent":10}`))
	noErr(t, err)
	b, err := segment.Decode([]byte(`{"minTotalSpent":10.00,"gender":"F","city":["cartago","SAN JOSE","san josé"]}`))
	noErr(t, err)
	equal(t, string(a.Canonical()), string(b.Canonical()))
	c, err := segment.Decode([]byte(`{"city":["San José","Cartago"],"gender":"mujer","minTotalSpent":10.01}`))
	noErr(t, err)
	equal(t, false, string(a.Canonical()) == string(c.Canonical()))
}
