package pgsearch_test

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// TestUnorderedScanOfIDs: an unordered scan asking for the ids alone reads
// every match of the filter once, in pages of the size asked, with its
// customer and company ids and no other field; asking for other fields
// reads those, and asking for none reads whole profiles.
func TestUnorderedScanOfIDs(t *testing.T) {
	var ps []profile.Profile
	for i := range 30 {
		ps = append(ps, customer(fmt.Sprintf("c%02d", i), fmt.Sprintf("C%d", i%3), "Ana Mora", "ana@example.com", "", "F", "Cartago",
			nil, 0, 0, nil, nil))
	}
	e := loadPostgres(t, ps)
	f := segment.Filter{}
	f.PinCompany("C1")
	scan := func(fields []string) []profile.Profile {
		var got []profile.Profile
		err := e.Scan(context.Background(), search.Query{Filter: f, Size: 4, Unordered: true, Fields: fields}, func(page []profile.Profile) error {
			if len(page) > 4 {
				t.Fatalf("page of %d, want at most 4", len(page))
			}
			got = append(got, page...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(got, func(i, j int) bool { return got[i].CustomerID < got[j].CustomerID })
		return got
	}
	got := scan([]string{"customerId"})
	if len(got) != 10 {
		t.Fatalf("%d customers, want the ten of C1", len(got))
	}
	for i, p := range got {
		if want := fmt.Sprintf("c%02d", 3*i+1); p.CustomerID != want || p.CompanyID != "C1" {
			t.Fatalf("customer %d is %s of %s, want %s of C1", i, p.CustomerID, p.CompanyID, want)
		}
		if p.Name != "" || p.Email != "" || p.City != "" {
			t.Fatalf("customer %s has fields not asked for: %+v", p.CustomerID, p)
		}
	}
	named := scan([]string{"customerId", "name"})
	if len(named) != 10 || named[0].CustomerID != "c01" || named[0].Name != "Ana Mora" {
		t.Fatalf("a scan of named fields reads them: %+v", named[0])
	}
	whole := scan(nil)
	if len(whole) != 10 || whole[0].Name != "Ana Mora" || whole[0].City != "Cartago" {
		t.Fatalf("a scan naming no fields reads whole profiles: %+v", whole[0])
	}
}
