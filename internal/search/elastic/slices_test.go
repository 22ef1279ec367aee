package elastic_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/segment"
)

// TestScanSlices: slices read in parallel from one point in time give
// every match of the routed company exactly once, in pages of at most the
// size asked, never two pages at once to fn; a document written after the
// scan began is not seen; fn's error stops the scan; a missing index is
// ErrNoIndex; no routing key is refused. The OpenSearch engine's unordered
// scan of ids reads that way and gives the same customers as one scroll.
func TestScanSlices(t *testing.T) {
	ctx := context.Background()
	client, alias, e, gen, ps := scanFixture(t, 90, 2)
	query := map[string]any{"term": map[string]any{"companyId": "C1"}}
	want := customersOf(ps, "C1")
	require.Len(t, want, 45)

	seen := map[string]bool{}
	var inside, pages atomic.Int32
	err := elastic.ScanSlices(ctx, client, elastic.SlicedScan{Index: alias, Query: query, DocValues: []string{"customerId"},
		Routing: "C1", Slices: 3, Size: 7}, func(hits []elastic.Hit) error {
		require.Equal(t, int32(1), inside.Add(1), "one page at a time")
		defer inside.Add(-1)
		require.LessOrEqual(t, len(hits), 7)
		if pages.Add(1) == 1 {
			require.NoError(t, e.Upsert(ctx, []profile.Profile{{CustomerID: "late", CompanyID: "C1"}}))
			_, err := e.Count(ctx, gen) // refreshes
			require.NoError(t, err)
		}
		for _, h := range hits {
			require.Empty(t, h.ID)
			require.Empty(t, h.Source)
			require.Len(t, h.Fields.CustomerID, 1)
			id := h.Fields.CustomerID[0]
			require.NotContains(t, seen, id, "each document once")
			seen[id] = true
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, want, seen, "the company's customers as they were when the scan began")
	require.GreaterOrEqual(t, pages.Load(), int32(7), "45 hits in pages of 7 or fewer")

	stop := errors.New("stop")
	err = elastic.ScanSlices(ctx, client, elastic.SlicedScan{Index: alias, Query: query, DocValues: []string{"customerId"},
		Routing: "C1", Slices: 2, Size: 5}, func([]elastic.Hit) error { return stop })
	require.ErrorIs(t, err, stop)
	err = elastic.ScanSlices(ctx, client, elastic.SlicedScan{Index: alias + "_missing", DocValues: []string{"customerId"},
		Routing: "C1", Slices: 2}, func([]elastic.Hit) error { return nil })
	require.ErrorIs(t, err, elastic.ErrNoIndex)
	err = elastic.ScanSlices(ctx, client, elastic.SlicedScan{Index: alias, DocValues: []string{"customerId"}, Slices: 2},
		func([]elastic.Hit) error { return nil })
	require.Error(t, err)

	f := segment.Filter{}
	f.PinCompany("C1")
	read := func(engine *elastic.Engine) map[string]bool {
		got := map[string]bool{}
		err := engine.Scan(ctx, search.Query{Filter: f, Size: 4, Unordered: true, Fields: []string{"customerId"}}, func(page []profile.Profile) error {
			require.LessOrEqual(t, len(page), 4)
			for _, p := range page {
				require.NotContains(t, got, p.CustomerID)
				got[p.CustomerID] = true
			}
			return nil
		})
		require.NoError(t, err)
		return got
	}
	sliced := elastic.New(client, alias, elastic.WithFlavor(elastic.FlavorOpenSearch), elastic.WithScanSlices(3),
		elastic.WithIDChunk(0))
	want["late"] = true
	require.Equal(t, want, read(sliced))
	require.Equal(t, read(elastic.New(client, alias, elastic.WithScanSlices(1))), read(sliced), "sliced and scrolled alike")
}
