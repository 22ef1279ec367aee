package source

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/reactivation/reactivation/internal/profile"
)

// The aggregation of a customer's invoice lines into a profile. The menu
// is numbered once per read (menu), so each line costs a few slice
// operations instead of map lookups by name: a full sync aggregates some
// twelve million lines.

// menu is a catalog numbered for aggregation: product and ingredient
// names in byte order (so a name's number orders it, as the profile's
// lists are ordered), and each product id's name and ingredients as
// numbers.
type menu struct {
	productNames, ingredientNames []string
	items                         []menuItem
	byID                          map[string]int32 // product id -> index in items
}

type menuItem struct {
	name        int32
	ingredients []int32
}

// Line products that are not an index in menu.items: an invoice without
// lines, and a line whose product the catalog does not know (counted as a
// line, nothing else).
const (
	noLine         int32 = -1
	unknownProduct int32 = -2
)

func newMenu(c *Catalog) *menu {
	var products, ingredients []string
	for _, p := range c.products {
		products = append(products, p.name)
		ingredients = append(ingredients, p.ingredients...)
	}
	m := &menu{productNames: distinctSorted(products), ingredientNames: distinctSorted(ingredients),
		byID: make(map[string]int32, len(c.products))}
	for id, p := range c.products {
		it := menuItem{name: number(m.productNames, p.name)}
		for _, g := range p.ingredients {
			if n := number(m.ingredientNames, g); !slices.Contains(it.ingredients, n) {
				it.ingredients = append(it.ingredients, n)
			}
		}
		m.byID[id] = int32(len(m.items))
		m.items = append(m.items, it)
	}
	return m
}

func distinctSorted(names []string) []string {
	sort.Strings(names)
	return slices.Compact(names)
}

func number(sorted []string, name string) int32 {
	i, _ := slices.BinarySearch(sorted, name)
	return int32(i)
}

// product returns the line product of a product id read as bytes (nil
// for an invoice without lines).
func (m *menu) product(id []byte) int32 {
	if id == nil {
		return noLine
	}
	if i, ok := m.byID[string(id)]; ok {
		return i
	}
	return unknownProduct
}

// aggregate accumulates one customer's lines. Lines of an invoice arrive
// together, so "distinct invoices containing X" is counted by marking
// what the current invoice already counted with the invoice's stamp.
type aggregate struct {
	menu                  *menu
	invoices, lines       int64
	cents                 int64
	first, last           time.Time
	invoice               uint64 // the current invoice's ordinal
	stamp                 uint32 // of the current invoice
	products, ingredients tally
}

// tally counts, per name number, the invoices containing the name.
type tally struct {
	count   []int64
	stamp   []uint32 // the last invoice that counted the name
	counted []int32  // the names with a count, in the order first counted
	order   []int32  // scratch for ranked
}

func newTally(names int) tally {
	return tally{count: make([]int64, names), stamp: make([]uint32, names)}
}

func (t *tally) add(name int32, stamp uint32) {
	if t.stamp[name] == stamp {
		return
	}
	t.stamp[name] = stamp
	if t.count[name] == 0 {
		t.counted = append(t.counted, name)
	}
	t.count[name]++
}

func (t *tally) reset() {
	for _, n := range t.counted {
		t.count[n] = 0
	}
	t.counted = t.counted[:0]
}

// ranked returns every counted name in ascending order, and the top
// profile.FavoritesLimit by count, ties by name ascending.
func (t *tally) ranked(names []string) (all, top []string) {
	slices.Sort(t.counted)
	all = make([]string, len(t.counted))
	for i, n := range t.counted {
		all[i] = names[n]
	}
	// The top by count, kept by insertion: names arrive in ascending
	// order, so one placed after those of its count keeps the ties by
	// name.
	k := profile.FavoritesLimit
	t.order = t.order[:0]
	for _, n := range t.counted {
		c, p := t.count[n], len(t.order)
		for p > 0 && t.count[t.order[p-1]] < c {
			p--
		}
		if p >= k {
			continue
		}
		if len(t.order) < k {
			t.order = append(t.order, 0)
		}
		copy(t.order[p+1:], t.order[p:len(t.order)-1])
		t.order[p] = n
	}
	top = make([]string, len(t.order))
	for i := range top {
		top[i] = names[t.order[i]]
	}
	return all, top
}

func newAggregate(m *menu) *aggregate {
	return &aggregate{menu: m, products: newTally(len(m.productNames)), ingredients: newTally(len(m.ingredientNames))}
}

func (a *aggregate) reset() {
	a.invoices, a.lines, a.cents, a.invoice = 0, 0, 0, 0
	a.first, a.last = time.Time{}, time.Time{}
	a.products.reset()
	a.ingredients.reset()
}

func (a *aggregate) add(l line) {
	if l.invoice != a.invoice || a.invoices == 0 {
		a.invoice = l.invoice
		a.invoices++
		a.cents += l.cents
		if a.first.IsZero() || l.date.Before(a.first) {
			a.first = l.date
		}
		if l.date.After(a.last) {
			a.last = l.date
		}
		a.nextStamp()
	}
	if l.product == noLine {
		return
	}
	a.lines++
	if l.product == unknownProduct {
		return
	}
	it := &a.menu.items[l.product]
	a.products.add(it.name, a.stamp)
	for _, g := range it.ingredients {
		a.ingredients.add(g, a.stamp)
	}
}

// nextStamp starts an invoice; after four billion of them the stamps
// start over from clean marks.
func (a *aggregate) nextStamp() {
	a.stamp++
	if a.stamp == 0 {
		clear(a.products.stamp)
		clear(a.ingredients.stamp)
		a.stamp = 1
	}
}

func (a *aggregate) fill(p *profile.Profile) {
	p.Gender = profile.NormalizeGender(p.GenderRaw)
	p.HasEmail = strings.TrimSpace(p.Email) != ""
	p.HasPhone = strings.TrimSpace(p.Phone) != ""
	p.TotalPurchases = a.invoices
	p.SourceLines = a.lines
	p.TotalSpent = profile.Cents(a.cents)
	p.AverageTicket = profile.AverageCents(p.TotalSpent, a.invoices)
	if a.invoices > 0 {
		first, last := a.first, a.last
		p.FirstPurchaseAt, p.LastPurchaseAt = &first, &last
	}
	p.Products, p.FavoriteProducts = a.products.ranked(a.menu.productNames)
	p.Ingredients, p.FavoriteIngredients = a.ingredients.ranked(a.menu.ingredientNames)
}
