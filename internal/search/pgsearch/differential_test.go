package pgsearch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// TestEnginesAgree runs random filters over random customers on both
// engines: identical totals, first pages, full scans, and cursor paging
// that returns every match exactly once.
func TestEnginesAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("differential test loads 2000 customers into both engines")
	}
	const seed = 20240615
	r := rand.New(rand.NewPCG(seed, seed))
	profiles := make([]profile.Profile, 2000)
	for i := range profiles {
		profiles[i] = randomProfile(r, i)
		addScores(r, &profiles[i])
	}
	engines := loadBoth(t, profiles)
	ctx := context.Background()
	sorts := []string{"lastPurchaseAt:desc", "lastPurchaseAt:asc", "totalSpent:desc", "totalSpent:asc",
		"totalPurchases:desc", "totalPurchases:asc", "averageTicket:desc", "averageTicket:asc", "name:asc", "name:desc"}
	sorts = append(sorts, scoreSorts...)
	nonEmpty := 0
	for n := range 250 {
		body := addScoreFilter(r, randomFilter(r, profiles))
		f, err := segment.Decode(body)
		if err != nil {
			t.Fatalf("filter %s: %v", body, err)
		}
		s, _ := segment.ParseSort(sorts[r.IntN(len(sorts))])
		q := search.Query{Filter: f, Sort: s, Size: 1 + r.IntN(100), Now: testNow, Location: costaRica}
		label := fmt.Sprintf("filter %d %s sort %s size %d", n, body, s, q.Size)

		pg, err := engines["postgres"].Search(ctx, q)
		if err != nil {
			t.Fatalf("postgres %s: %v", label, err)
		}
		es, err := engines["elasticsearch"].Search(ctx, q)
		if err != nil {
			t.Fatalf("elasticsearch %s: %v", label, err)
		}
		if pg.Total != es.Total || !slices.Equal(ids(pg.Customers), ids(es.Customers)) {
			t.Fatalf("%s:\npostgres      %d %v\nelasticsearch %d %v", label, pg.Total, ids(pg.Customers), es.Total, ids(es.Customers))
		}
		if pg.Total > 0 {
			nonEmpty++
		}

		scanQ := q
		scanQ.Size = 50 + r.IntN(300)
		pgAll := scanIDs(t, engines["postgres"], scanQ)
		esAll := scanIDs(t, engines["elasticsearch"], scanQ)
		if !slices.Equal(pgAll, esAll) || int64(len(pgAll)) != pg.Total {
			t.Fatalf("%s scan:\npostgres      %v\nelasticsearch %v", label, pgAll, esAll)
		}
		if n%5 == 0 {
			pageQ := q
			pageQ.Size = max(q.Size, 20)
			for name, e := range engines {
				if got := pageIDs(t, e, pageQ); !slices.Equal(got, pgAll) {
					t.Fatalf("%s %s: pages give %d ids, scan %d", name, label, len(got), len(pgAll))
				}
			}
		}
	}
	if nonEmpty < 100 {
		t.Fatalf("only %d of 250 random filters matched anything; the generator needs work", nonEmpty)
	}
}

// pageIDs follows nextCursor to the end.
func pageIDs(t testing.TB, e search.Searcher, q search.Query) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	for {
		page, err := e.Search(context.Background(), q)
		if err != nil {
			t.Fatalf("page: %v", err)
		}
		for _, id := range ids(page.Customers) {
			if seen[id] {
				t.Fatalf("customer %s on two pages", id)
			}
			seen[id] = true
			out = append(out, id)
		}
		if page.NextCursor == "" {
			return out
		}
		q.Cursor = page.NextCursor
	}
}

var (
	firstNames  = []string{"María", "maria", "MARÍA", "José", "Jose", "Ana", "Ána", "Luis", "Zoë", "Ñandú", "Pedro", "pedro", "Sofía", "Óscar", "Ángel", "María José", "Juan-Pablo", "Élodie"}
	lastNames   = []string{"Pérez", "perez", "Gómez", "GOMEZ", "Rodríguez", "Núñez", "Mora", "Vargas", "Jiménez", "O'Neil", "Solís"}
	genders     = []string{"Mujer", "F", "female", "Femenino", "hombre", "M", "masc", "MALE", "", "otro", "x", "Other", "unknown"}
	cities      = []string{"San José", "san jose", "SAN JOSÉ", " San  José ", "Cartago", "cartago", "Heredia", "Limón", "limon", "Alajuela", "Puntarenas", ""}
	products    = []string{"Café Negro", "café negro", "Pan", "Té Verde", "Queque", "Empanada", "Gallo Pinto", "Jugo de Piña", "Tamal", "Arroz con Leche", "Casado", "Churro", "Pastel de Piña", "Horchata", "Chifrijo"}
	ingredients = []string{"Café", "Harina", "Huevo", "Té", "Piña", "Arroz", "Leche", "Frijol", "Maíz", "Azúcar", "Canela", "Cerdo"}
	amounts     = []profile.Cents{0, 1, 109, 110, 999, 1000, 1099, 5000, 10000, 10010, 25050, 100000}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func some(r *rand.Rand, pool []string, most int) []string {
	n := r.IntN(most + 1)
	out := make([]string, 0, n)
	for range n {
		if v := pick(r, pool); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func randomProfile(r *rand.Rand, i int) profile.Profile {
	name := pick(r, firstNames) + " " + pick(r, lastNames)
	if r.IntN(10) == 0 {
		name = "  " + strings.ToUpper(name) + " "
	}
	p := profile.Profile{
		CustomerID: fmt.Sprintf("cust-%05d-%d", r.IntN(100000), i), // not in load order
		CompanyID:  pick(r, []string{"C1", "C1", "C2", "C3"}),
		Name:       name,
		GenderRaw:  pick(r, genders),
		City:       pick(r, cities),
		CreatedAt:  at(2020, 1, 1, 0, 0, 0, 0),
	}
	p.Gender = profile.NormalizeGender(p.GenderRaw)
	if r.IntN(10) < 7 {
		p.Email = strings.ToLower(strings.Fields(profile.Fold(name))[0]) + fmt.Sprint(i) + "@example.com"
	}
	if r.IntN(10) < 6 {
		p.Phone = fmt.Sprintf("+506 %d%03d-%04d", 2+r.IntN(7), r.IntN(1000), r.IntN(10000))
	}
	p.HasEmail, p.HasPhone = p.Email != "", p.Phone != ""
	if r.IntN(8) == 0 {
		return p // never purchased
	}
	var last time.Time
	switch r.IntN(4) {
	case 0: // exactly a local midnight, a day boundary
		last = testNow.AddDate(0, 0, -r.IntN(1100)).Truncate(24 * time.Hour).Add(6 * time.Hour)
	case 1: // the last nanosecond of a local day
		last = time.Date(2024, 6, 15-r.IntN(1100), 23, 59, 59, 999_999_999, costaRica)
	default:
		last = testNow.Add(-time.Duration(r.Int64N(int64(1100 * 24 * time.Hour))))
	}
	first := last.AddDate(0, 0, -r.IntN(400))
	p.LastPurchaseAt, p.FirstPurchaseAt = &last, &first
	p.TotalPurchases = 1 + r.Int64N(40)
	if r.IntN(3) == 0 {
		p.TotalSpent = pick(r, amounts)
	} else {
		p.TotalSpent = profile.Cents(r.Int64N(2_000_000))
	}
	p.AverageTicket = profile.AverageCents(p.TotalSpent, p.TotalPurchases)
	p.Products = some(r, products, 6)
	p.Ingredients = some(r, ingredients, 6)
	p.FavoriteProducts = p.Products[:min(len(p.Products), 2)]
	p.FavoriteIngredients = p.Ingredients[:min(len(p.Ingredients), 2)]
	return p
}

// randomFilter returns a filter body of a few random fields, with values
// in the spellings clients use.
func randomFilter(r *rand.Rand, profiles []profile.Profile) []byte {
	f := map[string]any{}
	maybe := func(field string, v func() any) {
		if r.IntN(7) == 0 {
			f[field] = v()
		}
	}
	ordered := func(lo, hi string, v func() any, less func(a, b any) bool) {
		maybe(lo, v)
		maybe(hi, v)
		if a, ok := f[lo]; ok {
			if b, ok := f[hi]; ok && less(b, a) {
				f[lo], f[hi] = b, a
			}
		}
	}
	lessInt := func(a, b any) bool { return a.(int) < b.(int) }
	money := func() any { return pick(r, amounts) }
	lessMoney := func(a, b any) bool { return a.(profile.Cents) < b.(profile.Cents) }
	days := func() any { return pick(r, []int{0, 1, 7, 30, 89, 90, 91, 180, 365, 730}) + r.IntN(3) }
	date := func() any { return testNow.AddDate(0, 0, -r.IntN(1100)).Format(segment.DateLayout) }

	maybe("companyId", func() any { return pick(r, []string{"C1", "C2", "C3"}) })
	maybe("gender", func() any {
		if r.IntN(2) == 0 {
			return pick(r, genders[:8])
		}
		return []string{pick(r, genders[:8]), pick(r, []string{"other", "unknown"})}
	})
	maybe("city", func() any { return some(r, cities[:11], 3) })
	ordered("minDaysSinceLastPurchase", "maxDaysSinceLastPurchase", days, lessInt)
	ordered("lastPurchaseFrom", "lastPurchaseTo", date, func(a, b any) bool { return a.(string) < b.(string) })
	ordered("minTotalPurchases", "maxTotalPurchases", func() any { return r.IntN(41) }, lessInt)
	ordered("minTotalSpent", "maxTotalSpent", money, lessMoney)
	ordered("minAverageTicket", "maxAverageTicket", money, lessMoney)
	maybe("products", func() any { return some(r, products, 3) })
	maybe("ingredients", func() any { return pick(r, ingredients) })
	maybe("favoriteProducts", func() any { return some(r, products, 4) })
	maybe("favoriteIngredients", func() any { return some(r, ingredients, 3) })
	maybe("hasEmail", func() any { return r.IntN(2) == 0 })
	maybe("hasPhone", func() any { return r.IntN(2) == 0 })
	if r.IntN(15) == 0 {
		f["neverPurchased"] = r.IntN(2) == 0
	}
	maybe("q", func() any {
		p := pick(r, profiles)
		switch r.IntN(4) {
		case 0:
			return strings.ToUpper(p.Name[:min(len(p.Name), 4)])
		case 1:
			if p.Phone != "" {
				return p.Phone[len(p.Phone)-6:]
			}
		case 2:
			if p.Email != "" {
				return p.Email[:3]
			}
		}
		return strings.Fields(p.Name)[len(strings.Fields(p.Name))-1]
	})
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	return b
}
