package elastic_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/testenv"
)

// The search conformance suite, which loads both engines with the same
// customers and compares them, is in search/pgsearch.

// TestNothingServedYet: before the first promotion there is no alias, and
// searches answer empty pages rather than fail.
func TestNothingServedYet(t *testing.T) {
	e := elastic.New(testenv.Elasticsearch(t))
	if err := e.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	page, err := e.Search(context.Background(), search.Query{})
	if err != nil || page.Total != 0 || len(page.Customers) != 0 {
		t.Fatalf("got %+v, %v", page, err)
	}
	err = e.Scan(context.Background(), search.Query{}, func([]profile.Profile) error {
		t.Fatal("scan found customers")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUncountedSearchSkipsTheTotal: a search whose caller knows the total
// does not make the engine count (Total 0) and answers the same page.
func TestUncountedSearchSkipsTheTotal(t *testing.T) {
	_, _, e, _, _ := scanFixture(t, 12, 2)
	ctx := context.Background()
	q := search.Query{Size: 4}
	q.Filter.PinCompany("C1")
	counted, err := e.Search(ctx, q)
	if err != nil || counted.Total != 6 || len(counted.Customers) != 4 {
		t.Fatalf("counted: %+v, %v", counted, err)
	}
	q.Uncounted = true
	uncounted, err := e.Search(ctx, q)
	if err != nil || uncounted.Total != 0 {
		t.Fatalf("uncounted: total %d, %v", uncounted.Total, err)
	}
	if !reflect.DeepEqual(counted.Customers, uncounted.Customers) || counted.NextCursor != uncounted.NextCursor {
		t.Fatalf("the pages differ: %+v against %+v", uncounted, counted)
	}
}
