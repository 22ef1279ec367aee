package pgsearch_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// Both engines answer every case of the same hand-built customers; the
// expectations are written out, not computed.

var costaRica = mustLocation("America/Costa_Rica")

// testNow is 10:00 on 2024-06-15 in Costa Rica: today-90 is 2024-03-17.
var testNow = time.Date(2024, 6, 15, 10, 0, 0, 0, costaRica)

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func at(y int, m time.Month, d, hh, mm, ss, ns int) *time.Time {
	t := time.Date(y, m, d, hh, mm, ss, ns, costaRica)
	return &t
}

// customer builds a profile with purchases; last nil means none.
func customer(id, company, name, email, phone, genderRaw, city string, last *time.Time, purchases int64, spent profile.Cents, products, ingredients []string) profile.Profile {
	p := profile.Profile{
		CustomerID: id, CompanyID: company, Name: name, Email: email, Phone: phone,
		Gender: profile.NormalizeGender(genderRaw), GenderRaw: genderRaw, City: city,
		CreatedAt: at(2020, 1, 1, 0, 0, 0, 0), LastPurchaseAt: last, FirstPurchaseAt: last,
		TotalPurchases: purchases, TotalSpent: spent, AverageTicket: profile.AverageCents(spent, purchases),
		Products: products, Ingredients: ingredients,
		HasEmail: email != "", HasPhone: phone != "",
	}
	if len(products) > 0 {
		p.FavoriteProducts = products[:1]
	}
	if len(ingredients) > 0 {
		p.FavoriteIngredients = ingredients[:1]
	}
	return p
}

var fixture = []profile.Profile{
	// Bought today.
	customer("c01", "C1", "María José Pérez", "maria@example.com", "+506 8888-1234", "Mujer", "San José",
		at(2024, 6, 15, 9, 0, 0, 0), 3, 11010, []string{"Café Negro", "Pan"}, []string{"Café", "Harina"}),
	// Last bought exactly 90 days ago, at the very end of that day.
	customer("c02", "C1", "Juan Pérez", "", "2222-3333", "M", "san jose",
		at(2024, 3, 17, 23, 59, 59, 999_999_999), 1, 110, []string{"Pan"}, []string{"Harina"}),
	// 89 days ago, at its first instant.
	customer("c03", "C1", "Ana Gómez", "ana@x.com", "", "F", "Cartago",
		at(2024, 3, 18, 0, 0, 0, 0), 2, 109, []string{"Té Verde"}, []string{"Té"}),
	// Never bought.
	customer("c04", "C1", "Pedro", "pedro@x.com", "", "", "Heredia", nil, 0, 0, nil, nil),
	// Bought at 23:30 on New Year's Eve local time (already 2024 in UTC).
	customer("c05", "C1", "Luis Ñáñez", "", "8777 0000", "otro", "Alajuela",
		at(2023, 12, 31, 23, 30, 0, 0), 4, 100000, []string{"Café Negro", "Queque"}, []string{"Café", "Harina", "Huevo"}),
	// Another company.
	customer("c06", "C2", "María López", "ml@x.com", "", "female", "SAN JOSÉ",
		at(2024, 6, 1, 12, 0, 0, 0), 1, 110, []string{"Pan"}, []string{"Harina"}),
	// Same folded name and same last purchase as c03: sorts tie on id.
	customer("c07", "C1", "ANA GOMEZ", "", "", "masc", "cartago",
		at(2024, 3, 18, 0, 0, 0, 0), 2, 109, []string{"Té Verde"}, []string{"Té"}),
	// Never bought, no contact.
	customer("c08", "C2", "Zoë", "", "", "F", "Limón", nil, 0, 0, nil, nil),
}

func TestFilterCases(t *testing.T) {
	engines := loadBoth(t, fixture)
	cases := []struct {
		body string
		want []string // in the default order: last purchase desc, none last, ties by id
	}{
		{`{}`, []string{"c01", "c06", "c03", "c07", "c02", "c05", "c04", "c08"}},
		{`{"companyId":"C2"}`, []string{"c06", "c08"}},
		{`{"gender":"mujer"}`, []string{"c01", "c06", "c03", "c08"}},
		{`{"gender":["male","other"]}`, []string{"c07", "c02", "c05"}},
		{`{"gender":"unknown"}`, []string{"c04"}},
		{`{"city":"san jose"}`, []string{"c01", "c06", "c02"}},
		{`{"city":["  SAN  JOSÉ ","limon"]}`, []string{"c01", "c06", "c02", "c08"}},
		{`{"minDaysSinceLastPurchase":90}`, []string{"c02", "c05"}},
		{`{"minDaysSinceLastPurchase":91}`, []string{"c05"}},
		{`{"minDaysSinceLastPurchase":89}`, []string{"c03", "c07", "c02", "c05"}},
		{`{"minDaysSinceLastPurchase":0}`, []string{"c01", "c06", "c03", "c07", "c02", "c05"}},
		{`{"maxDaysSinceLastPurchase":0}`, []string{"c01"}},
		{`{"maxDaysSinceLastPurchase":89}`, []string{"c01", "c06", "c03", "c07"}},
		{`{"maxDaysSinceLastPurchase":90}`, []string{"c01", "c06", "c03", "c07", "c02"}},
		{`{"minDaysSinceLastPurchase":30,"maxDaysSinceLastPurchase":90}`, []string{"c03", "c07", "c02"}},
		{`{"lastPurchaseTo":"2023-12-31"}`, []string{"c05"}},
		{`{"lastPurchaseFrom":"2024-01-01"}`, []string{"c01", "c06", "c03", "c07", "c02"}},
		{`{"lastPurchaseFrom":"2024-03-17","lastPurchaseTo":"2024-03-17"}`, []string{"c02"}},
		{`{"minTotalPurchases":2}`, []string{"c01", "c03", "c07", "c05"}},
		{`{"maxTotalPurchases":1}`, []string{"c06", "c02", "c04", "c08"}},
		{`{"minTotalPurchases":2,"maxTotalPurchases":3}`, []string{"c01", "c03", "c07"}},
		{`{"minTotalSpent":1.10}`, []string{"c01", "c06", "c02", "c05"}},
		{`{"maxTotalSpent":1.1}`, []string{"c06", "c03", "c07", "c02", "c04", "c08"}},
		{`{"minTotalSpent":1.09,"maxTotalSpent":1.09}`, []string{"c03", "c07"}},
		{`{"minTotalSpent":1000}`, []string{"c05"}},
		{`{"minAverageTicket":36.70,"maxAverageTicket":36.70}`, []string{"c01"}},
		{`{"maxAverageTicket":0.55}`, []string{"c03", "c07", "c04", "c08"}},
		{`{"minAverageTicket":0.55}`, []string{"c01", "c06", "c03", "c07", "c02", "c05"}},
		{`{"products":"café negro"}`, []string{"c01", "c05"}},
		{`{"products":["PAN","te verde"]}`, []string{"c01", "c06", "c03", "c07", "c02"}},
		{`{"favoriteProducts":"pan"}`, []string{"c06", "c02"}},
		{`{"ingredients":"huevo"}`, []string{"c05"}},
		{`{"favoriteIngredients":["Cafe","té"]}`, []string{"c01", "c03", "c07", "c05"}},
		{`{"hasEmail":true}`, []string{"c01", "c06", "c03", "c04"}},
		{`{"hasEmail":false}`, []string{"c07", "c02", "c05", "c08"}},
		{`{"hasPhone":true}`, []string{"c01", "c02", "c05"}},
		{`{"hasPhone":false,"hasEmail":false}`, []string{"c07", "c08"}},
		{`{"neverPurchased":true}`, []string{"c04", "c08"}},
		{`{"neverPurchased":false}`, []string{"c01", "c06", "c03", "c07", "c02", "c05"}},
		{`{"neverPurchased":true,"minTotalPurchases":1}`, nil},
		{`{"neverPurchased":true,"maxDaysSinceLastPurchase":10000}`, nil},
		{`{"q":"maria"}`, []string{"c01", "c06"}},
		{`{"q":"MARÍA pér"}`, []string{"c01"}},
		{`{"q":"jose"}`, []string{"c01"}},
		{`{"q":"8888-1234"}`, []string{"c01"}},
		{`{"q":"+506 8888"}`, []string{"c01"}},
		{`{"q":"8777"}`, []string{"c05"}},
		{`{"q":"ana@"}`, []string{"c03"}},
		{`{"q":"gomez"}`, []string{"c03", "c07"}},
		{`{"q":"zoe"}`, []string{"c08"}},
		{`{"q":"omez"}`, nil},
		{`{"companyId":"C1","city":"San José","minDaysSinceLastPurchase":90,"gender":"hombre"}`, []string{"c02"}},
		{`{"companyId":"C1","products":"pan","hasPhone":true,"minTotalSpent":1,"maxDaysSinceLastPurchase":90}`, []string{"c01", "c02"}},
		{`{"companyId":"C3"}`, nil},
	}
	for _, tc := range cases {
		f, err := segment.Decode([]byte(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		for name, e := range engines {
			page, err := e.Search(context.Background(), search.Query{Filter: f, Size: 100, Now: testNow, Location: costaRica})
			if err != nil {
				t.Fatalf("%s %s: %v", name, tc.body, err)
			}
			if got := ids(page.Customers); !slices.Equal(got, tc.want) || page.Total != int64(len(tc.want)) {
				t.Errorf("%s %s:\n got %v (total %d)\nwant %v", name, tc.body, got, page.Total, tc.want)
			}
		}
	}
}

func TestSortCases(t *testing.T) {
	engines := loadBoth(t, fixture)
	cases := map[string][]string{
		"lastPurchaseAt:desc": {"c01", "c06", "c03", "c07", "c02", "c05", "c04", "c08"},
		"lastPurchaseAt:asc":  {"c05", "c02", "c03", "c07", "c06", "c01", "c04", "c08"},
		"totalSpent:desc":     {"c05", "c01", "c02", "c06", "c03", "c07", "c04", "c08"},
		"totalSpent:asc":      {"c04", "c08", "c03", "c07", "c02", "c06", "c01", "c05"},
		"totalPurchases:desc": {"c05", "c01", "c03", "c07", "c02", "c06", "c04", "c08"},
		"averageTicket:asc":   {"c04", "c08", "c03", "c07", "c02", "c06", "c01", "c05"},
		// Folded names in byte order: "ana gomez" (twice), "juan perez",
		// "luis nanez", "maria jose perez", "maria lopez", "pedro", "zoe".
		"name:asc":  {"c03", "c07", "c02", "c05", "c01", "c06", "c04", "c08"},
		"name:desc": {"c08", "c04", "c06", "c01", "c05", "c02", "c03", "c07"},
	}
	for spec, want := range cases {
		s, err := segment.ParseSort(spec)
		if err != nil {
			t.Fatal(err)
		}
		for name, e := range engines {
			// Pages of 3 through the cursor, and a Scan in pages of 2.
			var got []string
			q := search.Query{Sort: s, Size: 3, Now: testNow, Location: costaRica}
			for {
				page, err := e.Search(context.Background(), q)
				if err != nil {
					t.Fatalf("%s %s: %v", name, spec, err)
				}
				got = append(got, ids(page.Customers)...)
				if page.NextCursor == "" {
					break
				}
				q.Cursor = page.NextCursor
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s %s pages:\n got %v\nwant %v", name, spec, got, want)
			}
			if got := scanIDs(t, e, search.Query{Sort: s, Size: 2, Now: testNow, Location: costaRica}); !slices.Equal(got, want) {
				t.Errorf("%s %s scan:\n got %v\nwant %v", name, spec, got, want)
			}
		}
	}
}

func TestBadCursor(t *testing.T) {
	engines := loadBoth(t, fixture)
	for name, e := range engines {
		for _, cursor := range []string{
			"garbage!",
			segment.EncodeCursor(segment.DefaultSort, []any{"not a number", "c01"}),
			segment.EncodeCursor(segment.DefaultSort, []any{1}),
			segment.EncodeCursor(segment.Sort{Field: "name"}, []any{"x", "c01"}), // another sort
		} {
			_, err := e.Search(context.Background(), search.Query{Cursor: cursor})
			ve, ok := err.(*segment.ValidationError)
			if !ok || ve.Errors[0].Field != "cursor" {
				t.Errorf("%s cursor %q: got %v, want a ValidationError on cursor", name, cursor, err)
			}
		}
	}
}

func TestReturnsWholeProfiles(t *testing.T) {
	engines := loadBoth(t, fixture)
	for name, e := range engines {
		page, err := e.Search(context.Background(), search.Query{Size: 100, Sort: segment.Sort{Field: "name"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range page.Customers {
			i := slices.IndexFunc(fixture, func(p profile.Profile) bool { return p.CustomerID == got.CustomerID })
			want := fixture[i]
			if !sameProfile(want, got) {
				t.Errorf("%s: customer %s came back as %+v, want %+v", name, want.CustomerID, got, want)
			}
		}
	}
}

// sameProfile compares profiles, instants by value.
func sameProfile(a, b profile.Profile) bool {
	sameTime := func(x, y *time.Time) bool { return x == nil && y == nil || x != nil && y != nil && x.Equal(*y) }
	if !sameTime(a.LastPurchaseAt, b.LastPurchaseAt) || !sameTime(a.FirstPurchaseAt, b.FirstPurchaseAt) ||
		!sameTime(a.CreatedAt, b.CreatedAt) || !sameTime(a.UpdatedAt, b.UpdatedAt) {
		return false
	}
	a.LastPurchaseAt, a.FirstPurchaseAt, a.CreatedAt, a.UpdatedAt = nil, nil, nil, nil
	b.LastPurchaseAt, b.FirstPurchaseAt, b.CreatedAt, b.UpdatedAt = nil, nil, nil, nil
	return reflectEqual(a, b)
}

func ids(ps []profile.Profile) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.CustomerID)
	}
	return out
}

func scanIDs(t testing.TB, e search.Searcher, q search.Query) []string {
	t.Helper()
	var out []string
	err := e.Scan(context.Background(), q, func(ps []profile.Profile) error {
		if len(ps) > q.Size {
			t.Fatalf("scan page of %d, want at most %d", len(ps), q.Size)
		}
		out = append(out, ids(ps)...)
		return nil
	})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return out
}
