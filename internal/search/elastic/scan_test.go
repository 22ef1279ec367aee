package elastic_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/testenv"
)

// TestScanIndex: every document once, in pages of the size asked, with its
// id, routing and source; documents written after the scan began are not
// seen; a missing index is ErrNoIndex; fn's error stops the scan.
func TestScanIndex(t *testing.T) {
	ctx := context.Background()
	client, alias, e, gen, _ := scanFixture(t, 25, 2)

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

// TestScanIndexDocValues: a scroll of doc values carries each hit's asked
// fields and nothing else (no _id, no _source), and the engine's unordered
// scan for ids alone reads them that way: every match of the filter once,
// with its id and company, and no other field.
func TestScanIndexDocValues(t *testing.T) {
	ctx := context.Background()
	client, alias, e, _, ps := scanFixture(t, 30, 3)

	seen := map[string]bool{}
	err := elastic.ScanIndex(ctx, client, elastic.Scroll{Index: alias, Size: 7, DocValues: []string{"customerId"}}, func(hits []elastic.Hit) error {
		require.LessOrEqual(t, len(hits), 7)
		for _, h := range hits {
			require.Empty(t, h.ID)
			require.Empty(t, h.Source)
			require.Empty(t, h.Fields.CompanyID, "only the fields asked for")
			require.Len(t, h.Fields.CustomerID, 1)
			id := h.Fields.CustomerID[0]
			require.NotContains(t, seen, id, "each document once")
			seen[id] = true
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, seen, 30)

	f := segment.Filter{}
	f.PinCompany("C1")
	for _, fields := range [][]string{{"customerId"}, {"customerId", "companyId"}, {"customerId", "customerId"}} {
		var got []profile.Profile
		err = e.Scan(ctx, search.Query{Filter: f, Size: 4, Unordered: true, Fields: fields}, func(page []profile.Profile) error {
			require.LessOrEqual(t, len(page), 4)
			got = append(got, page...)
			return nil
		})
		require.NoError(t, err)
		require.Len(t, got, 10, "the ten C1 customers")
		for _, p := range got {
			require.Equal(t, "C1", ps[indexOf(t, p.CustomerID)].CompanyID)
			require.Empty(t, p.Name, "only the fields asked for")
			require.Empty(t, p.City)
			if slices.Contains(fields, "companyId") {
				require.Equal(t, "C1", p.CompanyID)
			}
		}
	}
}

// indexOf is the number of a test customer id "cNN".
func indexOf(t *testing.T, id string) int {
	t.Helper()
	var i int
	_, err := fmt.Sscanf(id, "c%02d", &i)
	require.NoError(t, err)
	return i
}

// scanFixture serves n customers "cNN" named x in a fresh index, customer
// i of company "C<i mod companies>".
func scanFixture(t *testing.T, n, companies int) (*elasticsearch.Client, string, *elastic.Engine, string, []profile.Profile) {
	t.Helper()
	ctx := context.Background()
	client, alias := testenv.Elasticsearch(t)
	e := elastic.New(client, alias)
	const gen = "20240101t000000_abcdef"
	require.NoError(t, e.CreateGeneration(ctx, gen))
	var ps []profile.Profile
	for i := range n {
		ps = append(ps, profile.Profile{CustomerID: fmt.Sprintf("c%02d", i), CompanyID: fmt.Sprintf("C%d", i%companies), Name: "x", City: "x"})
	}
	require.NoError(t, e.Index(ctx, gen, ps))
	require.NoError(t, e.Promote(ctx, gen))
	return client, alias, e, gen, ps
}

// customersOf is the set of company's customer ids among ps.
func customersOf(ps []profile.Profile, company string) map[string]bool {
	ids := map[string]bool{}
	for _, p := range ps {
		if p.CompanyID == company {
			ids[p.CustomerID] = true
		}
	}
	return ids
}
