package elastic_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/testenv"
)

// TestOversizedKeywordIndexed: a 40 KB name and product (over the engine's
// 32 KB term limit) are indexed, kept whole in the document, and filters
// on normal values of the same fields still match.
func TestOversizedKeywordIndexed(t *testing.T) {
	ctx := context.Background()
	e := elastic.New(testenv.Elasticsearch(t))
	huge := strings.Repeat("Pizza grande ", 3100) // 40,300 bytes
	docs := []profile.Profile{
		{CustomerID: "c1", CompanyID: "CO", Name: huge, Products: []string{huge, "Pizza"}, FavoriteProducts: []string{huge}},
		{CustomerID: "c2", CompanyID: "CO", Name: "Ana", Products: []string{"Pizza"}},
	}
	const gen = "20260101t000000_aaaaaa"
	require.NoError(t, e.CreateGeneration(ctx, gen))
	require.NoError(t, e.Index(ctx, gen, docs))
	require.NoError(t, e.Promote(ctx, gen))

	company := "CO"
	f, err := segment.Filter{CompanyID: &company, Products: segment.StringList{"pizza"}}.Normalize()
	require.NoError(t, err)
	page, err := e.Search(ctx, search.Query{Filter: f, Sort: segment.DefaultSort, Size: 10})
	require.NoError(t, err)
	require.EqualValues(t, 2, page.Total, "a normal product value still filters")
	var got profile.Profile
	for _, c := range page.Customers {
		if c.CustomerID == "c1" {
			got = c
		}
	}
	require.Equal(t, huge, got.Name, "the full name is kept in _source")
	require.Contains(t, got.Products, huge)
}
