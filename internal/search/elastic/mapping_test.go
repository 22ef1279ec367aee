package elastic_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/testenv"
)

// TestMoneyOnceInCents: the document keeps each amount once, in cents, and
// every read (a search page, an export's scan of chosen fields) shows the
// same decimal amounts the profile had; money filters and sorts still
// see the cents.
func TestMoneyOnceInCents(t *testing.T) {
	ctx := context.Background()
	e := elastic.New(testenv.Elasticsearch(t))
	docs := []profile.Profile{
		{CustomerID: "c1", CompanyID: "CO", Name: "Ana", TotalPurchases: 3, TotalSpent: 32549704, AverageTicket: profile.AverageCents(32549704, 3)},
		{CustomerID: "c2", CompanyID: "CO", Name: "Bea", TotalPurchases: 1, TotalSpent: 1, AverageTicket: 1},
		{CustomerID: "c3", CompanyID: "CO", Name: "Cleo"},
	}
	const gen = "20260101t000000_bbbbbb"
	require.NoError(t, e.CreateGeneration(ctx, gen))
	require.NoError(t, e.Index(ctx, gen, docs))
	require.NoError(t, e.Promote(ctx, gen))

	company := "CO"
	floor := profile.Cents(2)
	f, err := segment.Filter{CompanyID: &company, MinTotalSpent: &floor}.Normalize()
	require.NoError(t, err)
	page, err := e.Search(ctx, search.Query{Filter: f, Sort: segment.Sort{Field: segment.SortTotalSpent, Desc: true}, Size: 10})
	require.NoError(t, err)
	require.EqualValues(t, 1, page.Total, "the cents filter sees 325497.04 and not 0.01 or 0")
	got, err := json.Marshal(page.Customers[0])
	require.NoError(t, err)
	want, err := json.Marshal(docs[0])
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got), "the customer comes back as indexed")
	require.Contains(t, string(got), `"totalSpent":325497.04`)
	require.Contains(t, string(got), `"averageTicket":108499.01`)

	amounts := map[string][2]profile.Cents{}
	err = e.Scan(ctx, search.Query{Filter: segment.Filter{CompanyID: &company}, Unordered: true,
		Fields: []string{"customerId", "totalSpent", "averageTicket"}}, func(ps []profile.Profile) error {
		for _, p := range ps {
			amounts[p.CustomerID] = [2]profile.Cents{p.TotalSpent, p.AverageTicket}
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, map[string][2]profile.Cents{"c1": {32549704, 10849901}, "c2": {1, 1}, "c3": {0, 0}}, amounts,
		"an export naming the amounts reads them from their cents")
}

// TestDecodeSourceOfOlderDocument: a document written before money was
// kept once (decimal amounts beside the cents) still reads back.
func TestDecodeSourceOfOlderDocument(t *testing.T) {
	p, err := elastic.DecodeSource([]byte(`{"customerId":"c1","totalSpent":325497.04,"averageTicket":1.5,
		"totalSpentCents":32549704,"averageTicketCents":150,"searchTokens":["ana"]}`))
	require.NoError(t, err)
	require.Equal(t, profile.Cents(32549704), p.TotalSpent)
	require.Equal(t, profile.Cents(150), p.AverageTicket)
}
