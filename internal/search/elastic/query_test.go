package elastic_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/segment"
)

func TestQueryEveryField(t *testing.T) {
	f, err := segment.Decode([]byte(`{
		"companyId":"C1","gender":"mujer","city":"San José","products":"Pan","ingredients":"Té",
		"favoriteProducts":"Café","favoriteIngredients":"Harina",
		"minDaysSinceLastPurchase":1,"lastPurchaseFrom":"2024-01-01",
		"minTotalPurchases":1,"maxTotalPurchases":9,"minTotalSpent":1.1,"maxAverageTicket":2,
		"hasEmail":true,"hasPhone":false,"neverPurchased":false,"q":"Ana 8888-1234"}`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)
	got, err := json.Marshal(elastic.Query(f, f.Bounds(now, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"bool":{"filter":[` +
		`{"term":{"companyId":"C1"}},` +
		`{"terms":{"gender":["female"]}},` +
		`{"terms":{"cityKey":["san jose"]}},` +
		`{"terms":{"productsKey":["pan"]}},` +
		`{"terms":{"ingredientsKey":["te"]}},` +
		`{"terms":{"favoriteProductsKey":["cafe"]}},` +
		`{"terms":{"favoriteIngredientsKey":["harina"]}},` +
		`{"range":{"lastPurchaseAt":{"format":"epoch_millis","gte":1704067200000,"lt":1718409600000}}},` +
		`{"range":{"totalPurchases":{"gte":1,"lte":9}}},` +
		`{"range":{"totalSpentCents":{"gte":110}}},` +
		`{"range":{"averageTicketCents":{"lte":200}}},` +
		`{"term":{"hasEmail":true}},` +
		`{"term":{"hasPhone":false}},` +
		`{"range":{"totalPurchases":{"gt":0}}},` +
		`{"prefix":{"searchTokens":"88881234"}},` +
		`{"prefix":{"searchTokens":"ana"}}]}}`
	if string(got) != want {
		t.Fatalf("query\n got %s\nwant %s", got, want)
	}
	if got, _ := json.Marshal(elastic.Query(segment.Filter{}, segment.Bounds{})); string(got) != `{"match_all":{}}` {
		t.Fatalf("empty filter compiles to %s", got)
	}
}

// TestIndexBodyMapsTheDocument checks that the strict mapping knows every
// field of the document, and nothing else.
func TestIndexBodyMapsTheDocument(t *testing.T) {
	var body struct {
		Settings map[string]any `json:"settings"`
		Mappings struct {
			Dynamic    string                    `json:"dynamic"`
			Properties map[string]map[string]any `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(elastic.IndexBody(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Mappings.Dynamic != "strict" || body.Settings["number_of_shards"] != 1.0 {
		t.Fatalf("mapping not strict or not one shard: %s", elastic.IndexBody())
	}
	doc, err := json.Marshal(elastic.Document(profile.Profile{Name: "Ana", Phone: "8888 1234", TotalSpent: 110}))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(doc, &fields); err != nil {
		t.Fatal(err)
	}
	var docFields, mapped []string
	for k := range fields {
		docFields = append(docFields, k)
	}
	for k := range body.Mappings.Properties {
		mapped = append(mapped, k)
	}
	slices.Sort(docFields)
	slices.Sort(mapped)
	if !slices.Equal(docFields, mapped) {
		t.Fatalf("document fields %v\nmapped fields   %v", docFields, mapped)
	}
	_, decimal := fields["totalSpent"]
	if fields["totalSpentCents"] != 110.0 || decimal {
		t.Fatalf("amounts not once, in cents: %s", doc)
	}
}
