package elastic_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/segment"
)

// TestCollectIDs: the aggregation gives every match of the routed company
// exactly once, in ascending order, in a list of about an eighth of the
// chunk, lists doubling from there, then lists of about the chunk (16 for
// 1,250 matches in chunks of 100, two for chunks of 5,000), never two
// lists at once to fn;
// from one point in time: a document written after the collection began
// is not seen, and documents deleted meanwhile still are; fn's error stops
// it; a missing index is ErrNoIndex; no routing key is refused. The
// OpenSearch engine's unordered scan of ids collects that way and gives
// the same customers as its sliced scan.
func TestCollectIDs(t *testing.T) {
	ctx := context.Background()
	client, alias, e, gen, ps := scanFixture(t, 2500, 2)
	query := map[string]any{"term": map[string]any{"companyId": "C1"}}
	want := customersOf(ps, "C1")
	require.Len(t, want, 1250)

	collect := func(chunk int, onFirst func(seen map[string]bool)) (map[string]bool, int32) {
		seen, last := map[string]bool{}, ""
		var inside, calls atomic.Int32
		err := elastic.CollectIDs(ctx, client, elastic.IDCollect{Index: alias, Query: query, Routing: "C1", Chunk: chunk},
			func(ids []string) error {
				require.Equal(t, int32(1), inside.Add(1), "one list at a time")
				defer inside.Add(-1)
				require.LessOrEqual(t, len(ids), 2*chunk, "ranges of about the chunk")
				for _, id := range ids {
					require.NotContains(t, seen, id, "each document once")
					require.Greater(t, id, last, "ascending, within and across lists")
					seen[id], last = true, id
				}
				if calls.Add(1) == 1 && onFirst != nil {
					onFirst(seen)
				}
				return nil
			})
		require.NoError(t, err)
		return seen, calls.Load()
	}

	seen, calls := collect(5000, nil)
	require.Equal(t, want, seen)
	require.Equal(t, int32(2), calls, "1,250 ids: a first eighth of a chunk of 5,000, then the rest")

	// Meanwhile: a new customer written, and every customer not seen yet
	// deleted; the point in time still has them all, and not the new one.
	left := map[string]bool{"late": true}
	seen, calls = collect(100, func(seen map[string]bool) {
		for id := range seen {
			left[id] = true
		}
		require.NoError(t, e.Upsert(ctx, []profile.Profile{{CustomerID: "late", CompanyID: "C1"}}))
		var tombs []search.Tombstone
		for id := range want {
			if !seen[id] {
				tombs = append(tombs, search.Tombstone{CustomerID: id, CompanyID: "C1", Version: time.Now().UnixNano()})
			}
		}
		require.NotEmpty(t, tombs)
		require.NoError(t, e.Delete(ctx, tombs))
		_, err := e.Count(ctx, gen) // refreshes
		require.NoError(t, err)
	})
	require.Equal(t, want, seen, "the company's customers as they were when the collection began")
	require.InDelta(t, 16, calls, 2, "1,250 ids: about 12, 25, 50, then ranges of about 100")

	stop := errors.New("stop")
	err := elastic.CollectIDs(ctx, client, elastic.IDCollect{Index: alias, Query: query, Routing: "C1", Chunk: 10},
		func([]string) error { return stop })
	require.ErrorIs(t, err, stop)
	err = elastic.CollectIDs(ctx, client, elastic.IDCollect{Index: alias + "_missing", Routing: "C1"},
		func([]string) error { return nil })
	require.ErrorIs(t, err, elastic.ErrNoIndex)
	err = elastic.CollectIDs(ctx, client, elastic.IDCollect{Index: alias, Query: query}, func([]string) error { return nil })
	require.Error(t, err)

	// The engine: of C1, only "late" and the first list's are left.
	f := segment.Filter{}
	f.PinCompany("C1")
	read := func(engine *elastic.Engine) map[string]bool {
		got := map[string]bool{}
		err := engine.Scan(ctx, search.Query{Filter: f, Size: 4, Unordered: true, Fields: []string{"customerId"}}, func(page []profile.Profile) error {
			for _, p := range page {
				require.NotContains(t, got, p.CustomerID)
				got[p.CustomerID] = true
			}
			return nil
		})
		require.NoError(t, err)
		return got
	}
	aggregated := elastic.New(client, alias, elastic.WithFlavor(elastic.FlavorOpenSearch), elastic.WithIDChunk(3))
	require.Equal(t, left, read(aggregated))
	f = segment.Filter{}
	f.PinCompany("C0")
	sliced := elastic.New(client, alias, elastic.WithFlavor(elastic.FlavorOpenSearch), elastic.WithIDChunk(0))
	got := read(aggregated)
	require.Len(t, got, 1250)
	require.Equal(t, read(sliced), got, "aggregated and sliced alike")
}
