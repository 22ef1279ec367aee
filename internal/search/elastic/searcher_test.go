package elastic_test

import (
	"context"
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
