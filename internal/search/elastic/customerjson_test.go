package elastic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/testenv"
)

// TestCustomerJSONIsTheProfilesJSON: for every kind of document the sync
// writes (strings that need escaping, accents and emoji, absent dates and
// scores, empty and absent lists, negative and large amounts),
// CustomerJSON writes byte for byte what json.Marshal of DecodeSource
// writes, and decodes the fields asked for as DecodeSource does.
func TestCustomerJSONIsTheProfilesJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	odd := []string{"", "plain", `quo"te`, `back\slash`, "tab\there", "new\nline", "<b>&amp;</b>", "San José", "Ñandú 🍕",
		"\u2028sep\u2029", "ctl\x01\x1f", "  spaced  ", strings.Repeat("x", 300), `{"not":"an object"}`, `[1,2]`, "a,b}c]"}
	fields := []string{"customerId", "lastPurchaseAt", "totalSpent", "totalPurchases", "averageTicket", "name",
		"pAlive", "expectedPurchases90d", "city", "gender", "rfmGroup", "products"}
	for i := range 2000 {
		p := profile.Profile{
			CustomerID: pickOdd(r, odd) + "id", CompanyID: "COMP001", Name: pickOdd(r, odd), Email: pickOdd(r, odd),
			Phone: pickOdd(r, odd), Gender: pickOdd(r, odd), GenderRaw: pickOdd(r, odd), City: pickOdd(r, odd),
			TotalPurchases: r.Int64N(1000), TotalSpent: profile.Cents(r.Int64N(1e12) - 1e10),
			AverageTicket: profile.Cents(r.Int64N(1e9)), HasEmail: r.IntN(2) == 0, HasPhone: r.IntN(2) == 0,
			RFMGroup: pickOdd(r, odd), SourceVersion: r.Int64(), SourceLines: r.Int64N(50),
		}
		if r.IntN(4) > 0 {
			at := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(6 * 365 * 24 * time.Hour))))
			later := at.Add(time.Duration(r.Int64N(int64(time.Hour))) + time.Nanosecond*time.Duration(r.IntN(1000)))
			p.FirstPurchaseAt, p.LastPurchaseAt, p.CreatedAt = &at, &later, &at
		}
		if r.IntN(3) > 0 {
			pa, ex, rs := r.Float64(), r.Float64()*10, 1+r.IntN(5)
			p.PAlive, p.ExpectedPurchases90d, p.RecencyScore, p.FrequencyScore, p.MonetaryScore = &pa, &ex, &rs, &rs, &rs
		}
		switch i % 3 {
		case 0:
			p.Products, p.FavoriteProducts = []string{pickOdd(r, odd), pickOdd(r, odd)}, []string{pickOdd(r, odd)}
			p.Ingredients, p.FavoriteIngredients = []string{}, []string{pickOdd(r, odd)}
		case 1:
			p.Products = []string{}
		}
		src, err := json.Marshal(elastic.Document(p))
		require.NoError(t, err)
		want, err := elastic.DecodeSource(src)
		require.NoError(t, err)
		wantJSON, err := json.Marshal(want)
		require.NoError(t, err)

		got, gotJSON, err := elastic.CustomerJSON(src, fields)
		require.NoError(t, err)
		require.Equal(t, string(wantJSON), string(gotJSON), "document %d", i)
		require.Equal(t, want.CustomerID, got.CustomerID)
		require.Equal(t, want.LastPurchaseAt, got.LastPurchaseAt)
		require.Equal(t, want.TotalSpent, got.TotalSpent)
		require.Equal(t, want.AverageTicket, got.AverageTicket)
		require.Equal(t, want.TotalPurchases, got.TotalPurchases)
		require.Equal(t, want.Name, got.Name)
		require.Equal(t, want.PAlive, got.PAlive)
		require.Equal(t, want.ExpectedPurchases90d, got.ExpectedPurchases90d)
		require.Equal(t, want.City, got.City)
		require.Equal(t, want.Gender, got.Gender)
		require.Equal(t, want.RFMGroup, got.RFMGroup)
		require.Equal(t, want.Products, got.Products)
		require.Empty(t, got.Email, "a field not asked for is not decoded")
	}
}

// TestCustomerJSONOfOtherDocuments: a document written before money was
// kept once, one that lacks fields, and one with white space all read as
// DecodeSource reads them; what is not a JSON object is an error.
func TestCustomerJSONOfOtherDocuments(t *testing.T) {
	for _, src := range []string{
		`{"customerId":"c1","totalSpent":325497.04,"averageTicket":1.5,"totalSpentCents":32549704,"averageTicketCents":150}`,
		`{"customerId":"c2"}`,
		`{}`,
		"{ \"customerId\" : \"c3\" ,\n \"products\" : [ \"a\" , \"b\\\"]\" ] , \"totalSpentCents\" : 1 ,\"pAlive\":null}",
		`{"customerId":"c4","searchTokens":["x","y"],"fingerprint":"f","unknown":{"a":[1,{"b":"}"}]},"sourceVersion":3}`,
	} {
		want, err := elastic.DecodeSource([]byte(src))
		require.NoError(t, err)
		wantJSON, err := json.Marshal(want)
		require.NoError(t, err)
		got, gotJSON, err := elastic.CustomerJSON([]byte(src), []string{"customerId", "totalSpent", "products"})
		require.NoError(t, err, src)
		require.JSONEq(t, string(wantJSON), string(gotJSON), src)
		require.Equal(t, want.CustomerID, got.CustomerID)
		require.Equal(t, want.TotalSpent, got.TotalSpent)
		require.Equal(t, want.Products, got.Products)
	}
	for _, src := range []string{``, `[]`, `"x"`, `{"a"}`, `{"a":}`, `{"a":"b`, `{"a":[1,2}`, `{"totalSpentCents":1.5}`, `{"a":1 "b":2}`} {
		_, _, err := elastic.CustomerJSON([]byte(src), nil)
		require.Error(t, err, src)
	}
}

func pickOdd(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

// TestSearchPagesAsJSON: a search asked for JSON answers the same bytes
// (Page.Encode) as the same search decoded into profiles, page after page,
// for customers whose strings need escaping and whose scores are whole
// numbers.
func TestSearchPagesAsJSON(t *testing.T) {
	ctx := context.Background()
	e := elastic.New(testenv.Elasticsearch(t))
	var docs []profile.Profile
	for i := range 25 {
		one, whole := 1.0, float64(i%3)
		at := time.Date(2026, 1, 1+i, 10, 0, 0, 123456789, time.UTC)
		docs = append(docs, profile.Profile{CustomerID: fmt.Sprintf("c%02d", i), CompanyID: "CO", Name: fmt.Sprintf("<b>Ana & Bea</b> \u2028 %d", i%4),
			City: "San José", Products: []string{`"quoted"`, "x"}, TotalPurchases: int64(i), TotalSpent: profile.Cents(i * 101),
			AverageTicket: profile.Cents(i * 7), LastPurchaseAt: &at, PAlive: &one, ExpectedPurchases90d: &whole})
	}
	const gen = "20260101t000000_jsonpg"
	require.NoError(t, e.CreateGeneration(ctx, gen))
	require.NoError(t, e.Index(ctx, gen, docs))
	require.NoError(t, e.Promote(ctx, gen))
	company := "CO"
	f, err := segment.Filter{CompanyID: &company}.Normalize()
	require.NoError(t, err)
	pages := 0
	for cursor := ""; ; pages++ {
		q := search.Query{Filter: f, Sort: segment.Sort{Field: segment.SortName}, Size: 10, Cursor: cursor}
		decoded, err := e.Search(ctx, q)
		require.NoError(t, err)
		q.JSON = true
		raw, err := e.Search(ctx, q)
		require.NoError(t, err)
		require.Nil(t, raw.Customers)
		want, err := decoded.Encode()
		require.NoError(t, err)
		got, err := raw.Encode()
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "page %d", pages)
		if cursor = decoded.NextCursor; cursor == "" {
			break
		}
	}
	require.Equal(t, 2, pages, "three pages of 10, 10 and 5")
}
