package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Shape of the data. Shares are of all customers unless said otherwise.
const (
	neverPurchasedShare = 0.08
	// Invoices per buying customer: 1 + a log-normal, capped, so most buy a
	// handful of times and a few hundreds (about 8 per customer overall).
	invoiceLogMean  = 1.46
	invoiceLogSigma = 1.15
	maxInvoices     = 400
	// historyDays is how far back invoices go: three years before AsOf.
	historyDays = 3 * 365
	// favoriteShare is the chance that a line is one of the customer's
	// favorite dishes rather than any dish by popularity.
	favoriteShare = 0.45
	oddNameShare  = 0.004
	upperNameMix  = 0.01
	noEmailShare  = 0.2
	noPhoneShare  = 0.12
	noCityShare   = 0.01
)

// recencyBuckets are the days since the last purchase of buying customers,
// chosen so that every inactivity segment is well populated.
var recencyBuckets = []weighted[[2]int]{
	{[2]int{1, 30}, 28}, {[2]int{31, 60}, 12}, {[2]int{61, 90}, 10},
	{[2]int{91, 180}, 15}, {[2]int{181, 365}, 16}, {[2]int{366, historyDays - 1}, 19},
}

var (
	linesPerInvoice = []weighted[int]{{1, 28}, {2, 30}, {3, 22}, {4, 11}, {5, 5}, {6, 3}, {7, 1}}
	quantities      = []weighted[int]{{1, 75}, {2, 18}, {3, 5}, {4, 2}}
	phonePrefixes   = []weighted[int]{{8, 60}, {6, 18}, {7, 12}, {2, 10}}
)

// customer is one generated customer with its invoices and their lines.
// Empty phone, email and city and gender nullGender are NULL.
type customer struct {
	num       int
	id        string
	companyID string
	name      string
	phone     string
	email     string
	gender    string
	city      string
	createdAt time.Time
	invoices  []invoice
	lines     []line
	days      []int // scratch
}

// invoice is one purchase; its lines are customer.lines[first:first+count].
type invoice struct {
	date       time.Time
	totalCents int64
	first      int
	count      int
}

// line is one product of an invoice.
type line struct {
	dish     int
	quantity int
}

// schedule is when a customer bought: the days before AsOf of the last and
// first purchases and the number of invoices.
type schedule struct {
	invoices     int
	lastDaysAgo  int
	firstDaysAgo int
}

// generator makes customer num from (seed, num) alone, so customers can be
// made in any order, or in parallel, and come out the same.
type generator struct {
	seed      uint64
	customers int
	asOf      time.Time // its date is day 0, its location that of every time

	companies  choice[string]
	cities     choice[[]string] // spellings of a city, canonical first
	recency    choice[[2]int]
	dishes     choice[int]
	lineCounts choice[int]
	quantities choice[int]
	phones     choice[int]
	domains    choice[string]
	genders    [3]choice[string] // female, male, other or missing

	firstSlugs   [2][]string // email slugs of femaleNames, maleNames
	surnameSlugs []string
}

func newGenerator(opts Options) *generator {
	g := &generator{
		seed:       uint64(opts.Seed),
		customers:  opts.Customers,
		asOf:       opts.AsOf,
		recency:    newChoice(recencyBuckets),
		lineCounts: newChoice(linesPerInvoice),
		quantities: newChoice(quantities),
		phones:     newChoice(phonePrefixes),
		domains:    newChoice(emailDomains),
		genders:    [3]choice[string]{newChoice(femaleSpellings), newChoice(maleSpellings), newChoice(otherSpellings)},
	}
	// Companies of unequal size: company k weighs 1/k.
	companies := make([]weighted[string], opts.Companies)
	for k := range companies {
		companies[k] = weighted[string]{fmt.Sprintf("COMP%03d", k+1), 1 / float64(k+1)}
	}
	g.companies = newChoice(companies)
	var citySpellings []weighted[[]string]
	for _, c := range cities {
		citySpellings = append(citySpellings, weighted[[]string]{spellings(c.name), c.weight})
	}
	g.cities = newChoice(citySpellings)
	var dishes []weighted[int]
	for i, d := range menu {
		dishes = append(dishes, weighted[int]{i, d.weight})
	}
	g.dishes = newChoice(dishes)
	for i, names := range [2][]string{femaleNames, maleNames} {
		for _, n := range names {
			first, _, _ := strings.Cut(n, " ")
			g.firstSlugs[i] = append(g.firstSlugs[i], emailSlug(first))
		}
	}
	for _, s := range surnames {
		g.surnameSlugs = append(g.surnameSlugs, emailSlug(s))
	}
	return g
}

// spellings returns the ways raw data writes a city: canonical first, then
// without accents, upper case and lower case (duplicates removed).
func spellings(name string) []string {
	out := []string{name}
	for _, v := range []string{stripAccents(name), strings.ToUpper(name), strings.ToLower(name)} {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func stripAccents(s string) string {
	return strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "Á", "A", "É", "E", "Í", "I", "Ó", "O", "Ú", "U").Replace(s)
}

// Random streams of one customer: its profile and schedule, and its baskets.
// Separate streams let the customers table skip the baskets.
const (
	streamProfile = 1
	streamBaskets = 2
)

// rng reseeds src for stream of customer num.
func (g *generator) rng(src *rand.PCG, num int, stream uint64) {
	src.Seed(splitmix(g.seed^0x5eed), splitmix(uint64(num)<<4|stream))
}

// splitmix is SplitMix64's finalizer: neighbouring inputs give unrelated outputs.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// randomness is a customer's random state, reused across customers.
type randomness struct {
	src *rand.PCG
	r   *rand.Rand
}

func newRandomness() randomness {
	src := rand.NewPCG(0, 0)
	return randomness{src: src, r: rand.New(src)}
}

// profile fills c's own fields and its purchase schedule, leaving invoices
// empty; it is all the customers table needs.
func (g *generator) profile(s randomness, c *customer, num int) schedule {
	g.rng(s.src, num, streamProfile)
	r := s.r
	c.num = num
	c.id = "C" + pad(num, 7)
	c.companyID = g.companies.pick(r)
	c.invoices, c.lines = c.invoices[:0], c.lines[:0]

	var sex, names int // sex 0 female, 1 male, 2 other or missing; names 0 female, 1 male
	switch p := r.IntN(100); {
	case p <= 50:
	case p <= 96:
		sex, names = 1, 1
	default:
		sex, names = 2, r.IntN(2)
	}
	c.gender = g.genders[sex].pick(r)
	firstNames := [2][]string{femaleNames, maleNames}[names]
	fi, s1, s2 := r.IntN(len(firstNames)), r.IntN(len(surnames)), r.IntN(len(surnames))
	c.name = firstNames[fi] + " " + surnames[s1] + " " + surnames[s2]
	switch odd := r.Float64(); {
	case odd < oddNameShare:
		c.name = oddName(r, nicknames[names], firstNames[fi], surnames[s1], surnames[s2])
	case odd < oddNameShare+upperNameMix:
		c.name = strings.ToUpper(c.name)
	}

	c.email = ""
	if r.Float64() >= noEmailShare {
		c.email = g.email(r, g.firstSlugs[names][fi], g.surnameSlugs[s1])
	}
	c.phone = ""
	if r.Float64() >= noPhoneShare {
		c.phone = "+506 " + strconv.Itoa(g.phones.pick(r)) + pad(r.IntN(1000), 3) + " " + pad(r.IntN(10000), 4)
	}
	c.city = ""
	if r.Float64() >= noCityShare {
		variants := g.cities.pick(r)
		c.city = variants[0]
		if v := r.Float64(); v < 0.15 && len(variants) > 1 {
			c.city = variants[1+int(v/0.15*float64(len(variants)-1))]
		}
	}

	sch := g.schedule(r)
	if sch.invoices == 0 {
		c.createdAt = g.at(r, 1+r.IntN(historyDays))
	} else {
		// Registered before the day of the first purchase, up to four months.
		c.createdAt = g.day(sch.firstDaysAgo, 0, 0).Add(-time.Duration(1+r.IntN(120*24*60)) * time.Minute)
	}
	return sch
}

// oddName writes a name the way a few records do: surnames first after a
// comma, a nickname in double quotes, a surname with an apostrophe.
func oddName(r *rand.Rand, nicknames []string, first, s1, s2 string) string {
	nick := `"` + nicknames[r.IntN(len(nicknames))] + `"`
	switch r.IntN(4) {
	case 0:
		return s1 + " " + s2 + ", " + first
	case 1:
		return first + " " + nick + " " + s1 + " " + s2
	case 2:
		return apostropheSurnames[r.IntN(len(apostropheSurnames))] + ", " + nick
	default:
		return apostropheSurnames[r.IntN(len(apostropheSurnames))] + " " + s1 + ", " + first
	}
}

func (g *generator) email(r *rand.Rand, first, surname string) string {
	var b strings.Builder
	b.WriteString(first)
	switch r.IntN(10) {
	case 0:
		b.WriteByte('_')
	case 1, 2, 3, 4, 5:
		b.WriteByte('.')
	}
	b.WriteString(surname)
	switch r.IntN(3) {
	case 0:
		b.WriteString(strconv.Itoa(r.IntN(100)))
	case 1:
		b.WriteString(strconv.Itoa(1955 + r.IntN(50)))
	}
	b.WriteByte('@')
	b.WriteString(g.domains.pick(r))
	return b.String()
}

// schedule draws how many times a customer bought and when it started and
// stopped: days since the last purchase from recencyBuckets, a heavy-tailed
// count, and a typical gap between visits that sets the first purchase.
func (g *generator) schedule(r *rand.Rand) schedule {
	if r.Float64() < neverPurchasedShare {
		return schedule{}
	}
	bucket := g.recency.pick(r)
	last := bucket[0] + r.IntN(bucket[1]-bucket[0]+1)
	n := 1 + int(math.Exp(invoiceLogMean+invoiceLogSigma*r.NormFloat64()))
	available := historyDays - last // days between the window's start and the last purchase
	n = min(n, maxInvoices, 2*available+1)
	gap := math.Exp(math.Log(21) + 0.8*r.NormFloat64()) // days between visits
	span := min(available, int(float64(n-1)*max(gap, 1)))
	return schedule{invoices: n, lastDaysAgo: last, firstDaysAgo: last + span}
}

// invoices fills c.invoices and c.lines for the schedule profile returned:
// dates in order from the profile stream (the first and last on the
// schedule's days), then baskets and totals from the basket stream.
func (g *generator) invoices(s randomness, c *customer, sch schedule) {
	if sch.invoices == 0 {
		return
	}
	days := append(c.days[:0], sch.firstDaysAgo)
	for range sch.invoices - 2 {
		days = append(days, sch.lastDaysAgo+s.r.IntN(sch.firstDaysAgo-sch.lastDaysAgo+1))
	}
	if sch.invoices > 1 {
		days = append(days, sch.lastDaysAgo)
	}
	slices.SortFunc(days, func(a, b int) int { return b - a })
	c.days = days
	for _, d := range days {
		c.invoices = append(c.invoices, invoice{date: g.at(s.r, d)})
	}

	g.rng(s.src, c.num, streamBaskets)
	r := s.r
	var favorites [3]int
	for i := range favorites {
		favorites[i] = g.dishes.pick(r)
	}
	for i := range c.invoices {
		inv := &c.invoices[i]
		inv.first = len(c.lines)
		inv.count = g.lineCounts.pick(r)
		var subtotal int64 // colones
		for range inv.count {
			d := g.dish(r, favorites, c.lines[inv.first:])
			q := g.quantities.pick(r)
			c.lines = append(c.lines, line{dish: d, quantity: q})
			subtotal += menu[d].price * int64(q)
		}
		// 13% IVA plus 10% service when eaten in; a colón times a percentage
		// is a cent. Now and then a 10% discount.
		rate := int64(123)
		if r.IntN(4) == 0 {
			rate = 113
		}
		inv.totalCents = subtotal * rate
		if r.IntN(16) == 0 {
			inv.totalCents = (inv.totalCents*90 + 50) / 100
		}
	}
}

// dish picks a dish not yet in lines: one of the customer's favorites or
// any by popularity.
func (g *generator) dish(r *rand.Rand, favorites [3]int, lines []line) int {
	taken := func(d int) bool {
		return slices.ContainsFunc(lines, func(l line) bool { return l.dish == d })
	}
	d := 0
	for range 8 {
		if r.Float64() < favoriteShare {
			d = favorites[r.IntN(len(favorites))]
		} else {
			d = g.dishes.pick(r)
		}
		if !taken(d) {
			return d
		}
	}
	for taken(d) {
		d = (d + 1) % len(menu)
	}
	return d
}

// at returns a time of day on the day daysAgo days before AsOf: lunch and
// dinner hours mostly.
func (g *generator) at(r *rand.Rand, daysAgo int) time.Time {
	var minute int
	switch p := r.IntN(20); {
	case p < 9:
		minute = 11*60 + 30 + r.IntN(180)
	case p < 18:
		minute = 18*60 + r.IntN(210)
	default:
		minute = 15*60 + r.IntN(180)
	}
	return g.day(daysAgo, minute, r.IntN(60))
}

// day returns minute:second past midnight, daysAgo days before AsOf's date,
// in AsOf's location.
func (g *generator) day(daysAgo, minute, second int) time.Time {
	y, m, d := g.asOf.Date()
	return time.Date(y, m, d-daysAgo, 0, minute, second, 0, g.asOf.Location())
}

// pad formats n with leading zeros to width digits.
func pad(n, width int) string {
	s := strconv.Itoa(n)
	if len(s) >= width {
		return s
	}
	return strings.Repeat("0", width-len(s)) + s
}

// choice picks one of its values with probability proportional to its weight.
type choice[T any] struct {
	values     []T
	cumulative []float64 // running sum of the weights, ending at 1
}

func newChoice[T any](items []weighted[T]) choice[T] {
	c := choice[T]{values: make([]T, len(items)), cumulative: make([]float64, len(items))}
	total := 0.0
	for i, it := range items {
		total += it.weight
		c.values[i], c.cumulative[i] = it.value, total
	}
	for i := range c.cumulative {
		c.cumulative[i] /= total
	}
	return c
}

func (c choice[T]) pick(r *rand.Rand) T {
	i, _ := slices.BinarySearch(c.cumulative, r.Float64())
	return c.values[min(i, len(c.values)-1)]
}
