package elastic_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/testenv"
)

// TestScanIndex: every document once, in pages of the size asked, with its
// id, routing and source; documents written after the scan began are not
// seen; a missing index is ErrNoIndex; fn's error stops the scan.
func TestScanIndex(t *testing.T) {
	ctx := context.Background()
	client, alias := testenv.Elasticsearch(t)
	e := elastic.New(client, alias)
	const gen = "20240101t000000_abcdef"
	require.NoError(t, e.CreateGeneration(ctx, gen))
	var ps []profile.Profile
	for i := range 25 {
		ps = append(ps, profile.Profile{CustomerID: fmt.Sprintf("c%02d", i), CompanyID: fmt.Sprintf("C%d", i%2), Name: "x"})
	}
	require.NoError(t, e.Index(ctx, gen, ps))
	require.NoError(t, e.Promote(ctx, gen))

	seen := map[string]string{}
	var pages int
	err := elastic.ScanIndex(ctx, client, elastic.Scroll{Index: alias, Size: 4}, func(hits []elastic.Hit) error {
		require.LessOrEqual(t, len(hits), 4)
		if pages++; pages == 1 {
			more := []profile.Profile{{CustomerID: "late", CompanyID: "C0"}}
			require.NoError(t, e.Upsert(ctx, more))
			_, err := e.Count(ctx, gen) // refreshes
			require.NoError(t, err)
		}
		for _, h := range hits {
			require.NotContains(t, seen, h.ID, "each document once")
			require.Contains(t, string(h.Source), `"customerId":"`+h.ID+`"`)
			seen[h.ID] = h.Routing
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, seen, 25, "the index as it was when the scan began")
	require.Equal(t, "C1", seen["c01"])
	require.GreaterOrEqual(t, pages, 7)

	var routed int
	err = elastic.ScanIndex(ctx, client, elastic.Scroll{Index: alias, Routing: "C1", Size: 100,
		Query: map[string]any{"term": map[string]any{"companyId": "C1"}}}, func(hits []elastic.Hit) error {
		routed += len(hits)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 12, routed)

	stop := errors.New("stop")
	err = elastic.ScanIndex(ctx, client, elastic.Scroll{Index: alias, Size: 5}, func([]elastic.Hit) error { return stop })
	require.ErrorIs(t, err, stop)

	err = elastic.ScanIndex(ctx, client, elastic.Scroll{Index: alias + "_missing"}, func([]elastic.Hit) error { return nil })
	require.ErrorIs(t, err, elastic.ErrNoIndex)
	require.True(t, strings.Contains(err.Error(), alias+"_missing"))
}
