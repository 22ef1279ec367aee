// Package profiletest makes random profiles for differential tests of
// what writes and reads them: every string json.Marshal escapes or
// replaces, text to fold and tokenise, nil and empty lists, instants in
// odd zones, floats whose JSON form changes, amounts of any size.
package profiletest

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/reactivation/reactivation/internal/profile"
)

// Pieces are what random strings are made of: plain and accented text,
// everything json.Marshal escapes, bytes that are not UTF-8 (stray,
// truncated, surrogates, overlong) and characters of every width.
var Pieces = []string{
	"", "a", "Hola mundo", "San José", "á", "é", "í", "ó", "ú", "ñ", "Ñ", "ü", "Ü",
	"<", ">", "&", `"`, `\`, "/", "'", "<b>&amp;</b>",
	"\x00", "\b", "\f", "\n", "\r", "\t", "\v", "\x1b", "\x1f", "\x7f",
	"\xff", "\xfe", "\x80", "\xc3", "\xe2\x80", "\xf0\x9f\x8d", "\xed\xa0\x80", "\xc0\x80",
	"\u2027", "\u2028", "\u2029", "\u202a", "\ufffd", "\uffff", "🍕", "👩‍👩‍👧", "\U0010ffff",
	"e\u0301", "+506 8888-1234", "maria@example.com", "ÁÉÍÓÚ", "İ", "ß", "  ",
}

// String is a few random pieces, control characters and bytes.
func String(r *rand.Rand) string {
	var s []byte
	for range r.IntN(7) {
		switch r.IntN(6) {
		case 0:
			s = append(s, byte(r.IntN(0x20)))
		case 1:
			s = append(s, byte(r.IntN(256)))
		default:
			s = append(s, Pieces[r.IntN(len(Pieces))]...)
		}
	}
	return string(s)
}

// Strings is nil, empty or a few random strings.
func Strings(r *rand.Rand) []string {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	s := make([]string, 1+r.IntN(5))
	for i := range s {
		s[i] = String(r)
	}
	return s
}

// Zones are offsets whole, negative, of half and quarter hours, of a
// day less a second, and with seconds RFC 3339 cannot write.
var Zones = []*time.Location{
	time.UTC, time.FixedZone("", 0), time.FixedZone("CST", -6*3600), time.FixedZone("IST", 5*3600+1800),
	time.FixedZone("NPT", 5*3600+2700), time.FixedZone("MART", -(9*3600 + 1800)), time.FixedZone("LINT", 14*3600),
	time.FixedZone("edge", -(24*3600 - 1)), time.FixedZone("edge", 24*3600-1), time.FixedZone("LMT", -(3600 + 17)),
}

// Time is nil, the zero time, now (with a monotonic reading), or a
// random instant of years 1-9998 (in UTC too, whatever the zone, as
// a fingerprint needs) in a random zone, with nanoseconds.
func Time(r *rand.Rand) *time.Time {
	var t time.Time
	switch r.IntN(6) {
	case 0:
		return nil
	case 1:
	case 2:
		t = time.Now()
	default:
		nanos := [...]int{0, r.IntN(1e9), r.IntN(1e6) * 1000, 100_000_000, 1}[r.IntN(5)]
		t = time.Date(1+r.IntN(9998), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60),
			nanos, Zones[r.IntN(len(Zones))])
	}
	return &t
}

// floats are the float64s whose JSON form changes: zeros, the bounds
// of plain notation, the smallest and largest, whole numbers.
var floats = []float64{
	0, math.Copysign(0, -1), 1e-7, -1e-7, 5e-324, 0.1, 1, -1, 123456789, 1e20, 1e21, -1e21, 1.5e300,
	1e-6, math.Nextafter(1e-6, 0), math.Nextafter(1e21, 0), 1e-10, 2.5e-9, 1e100, math.MaxFloat64, 1 << 53, 0.5,
}

// Float is one of floats or a random float64 of any magnitude, never
// NaN or infinite.
func Float(r *rand.Rand) *float64 {
	var f float64
	switch r.IntN(5) {
	case 0:
		return nil
	case 1:
		f = floats[r.IntN(len(floats))]
	case 2:
		f = r.Float64()
	case 3:
		f = (2*r.Float64() - 1) * math.Pow(10, float64(r.IntN(628)-320))
	default:
		if f = math.Float64frombits(r.Uint64()); math.IsNaN(f) || math.IsInf(f, 0) {
			f = -0.25
		}
	}
	return &f
}

// Int is nil or a score, or any int.
func Int(r *rand.Rand) *int {
	if r.IntN(3) == 0 {
		return nil
	}
	v := [...]int{1 + r.IntN(5), 0, -1, math.MaxInt, math.MinInt, int(r.Int64())}[r.IntN(6)]
	return &v
}

// Cents is an amount of any sign and size but math.MinInt64, which
// json.Marshal cannot write.
func Cents(r *rand.Rand) profile.Cents {
	special := [...]int64{0, 1, -1, 5, -5, 99, -99, 100, -100, 101, -101, math.MaxInt64, math.MinInt64 + 1, 99999999999999}
	if r.IntN(3) == 0 {
		return profile.Cents(special[r.IntN(len(special))])
	}
	if v := int64(r.Uint64()) >> r.IntN(64); v != math.MinInt64 {
		return profile.Cents(v)
	}
	return 0
}

// Profile is a profile with every field random.
func Profile(r *rand.Rand) profile.Profile {
	return profile.Profile{
		CustomerID: String(r), CompanyID: String(r), Name: String(r), Email: String(r),
		Phone: String(r), Gender: String(r), GenderRaw: String(r), City: String(r),
		CreatedAt: Time(r), UpdatedAt: Time(r), FirstPurchaseAt: Time(r), LastPurchaseAt: Time(r),
		TotalPurchases: int64(r.Uint64()) >> r.IntN(64), TotalSpent: Cents(r), AverageTicket: Cents(r),
		Products: Strings(r), FavoriteProducts: Strings(r),
		Ingredients: Strings(r), FavoriteIngredients: Strings(r),
		HasEmail: r.IntN(2) == 0, HasPhone: r.IntN(2) == 0, SourceVersion: r.Int64(), SourceLines: r.Int64(),
		RecencyScore: Int(r), FrequencyScore: Int(r), MonetaryScore: Int(r), RFMGroup: String(r),
		PAlive: Float(r), ExpectedPurchases90d: Float(r),
	}
}

// Typical is a customer as a sync writes many: accented text,
// dates in a local zone, a score, lists of a realistic length.
func Typical() profile.Profile {
	at := time.Date(2024, 3, 17, 15, 4, 5, 123456789, time.FixedZone("CST", -6*3600))
	list := func(n int, word string) []string {
		l := make([]string, n)
		for i := range l {
			l[i] = word + " número " + string(rune('A'+i))
		}
		return l
	}
	r, pa, ex := 4, 0.8731546, 1.25
	return profile.Profile{
		CustomerID: "CUST-000123456", CompanyID: "COMP001", Name: "María José Núñez Araya",
		Email: "maria.nunez@example.com", Phone: "+506 8888-1234", Gender: profile.GenderFemale, GenderRaw: "Femenino",
		City: "San José", CreatedAt: &at, UpdatedAt: &at, FirstPurchaseAt: &at, LastPurchaseAt: &at,
		TotalPurchases: 37, TotalSpent: 32549704, AverageTicket: 879722,
		Products: list(20, "Café con leche"), FavoriteProducts: list(5, "Café con leche"),
		Ingredients: list(30, "Azúcar"), FavoriteIngredients: list(5, "Azúcar"), HasEmail: true, HasPhone: true,
		RecencyScore: &r, FrequencyScore: &r, MonetaryScore: &r, RFMGroup: "loyal", SourceVersion: 123456789, PAlive: &pa, ExpectedPurchases90d: &ex,
	}
}
