package profile

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// The appenders here write a profile's JSON by hand, byte for byte what
// json.Marshal writes, without reflection: a full sync encodes every
// profile twice (its fingerprint and its search document), and
// json.Marshal was a fifth of the worker's CPU. The tests compare them
// with json.Marshal on random profiles.
//
// They panic where json.Marshal returns an error, as no byte-identical
// output exists there: an instant whose year is outside 0-9999 or whose
// offset is a day or more (time.Time.MarshalJSON refuses them), a NaN or
// infinite score (scores.Apply leaves such a score out) and Cents of
// math.MinInt64 (Cents.MarshalJSON writes no number for it).

// escapes says how json.Marshal writes each byte of a string: 0 as it is,
// 'u' as \u and four hex digits, multiByte as the start of a character to
// decode, and any other value c as a backslash and c.
var escapes = func() (t [256]byte) {
	for c := range 0x20 {
		t[c] = 'u'
	}
	t['\b'], t['\f'], t['\n'], t['\r'], t['\t'] = 'b', 'f', 'n', 'r', 't'
	t['"'], t['\\'] = '"', '\\'
	// HTML's specials, as json.Marshal escapes them by default.
	t['<'], t['>'], t['&'] = 'u', 'u', 'u'
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = multiByte
	}
	return t
}()

// multiByte marks, in escapes, the bytes that start (or wrongly continue)
// a character of more than one byte.
const multiByte = 1

// AppendString appends s as json.Marshal writes a string: quoted, with
// quotes, backslashes and control characters escaped, <, > and &
// escaped for HTML, U+2028 and U+2029 escaped for JavaScript, and each
// byte that is not valid UTF-8 replaced by \ufffd. Runs of bytes written
// as they are are copied in one append.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		e := escapes[s[i]]
		if e == 0 {
			i++
			continue
		}
		if e != multiByte {
			b = appendEscape(append(b, s[start:i]...), s[i], e)
			i++
			start = i
			continue
		}
		if n := validLatin(s[i:]); n > 0 {
			i += n
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if n > 1 && r != '\u2028' && r != '\u2029' {
			i += n
			continue
		}
		// n == 1 is an invalid byte: r is utf8.RuneError, U+FFFD.
		b = appendU(append(b, s[start:i]...), r)
		i += n
		start = i
	}
	return append(append(b, s[start:]...), '"')
}

// validLatin is 2 when s starts with a valid two-byte character (as the
// accented letters of Spanish are), which is written as it is; 0 for
// anything else, left to utf8.DecodeRuneInString.
func validLatin(s string) int {
	if len(s) >= 2 && s[0] >= 0xc2 && s[0] <= 0xdf && s[1]&0xc0 == 0x80 {
		return 2
	}
	return 0
}

// appendEscape writes the ASCII byte c, whose entry in escapes is e.
func appendEscape(b []byte, c, e byte) []byte {
	if e == 'u' {
		return appendU(b, rune(c))
	}
	return append(b, '\\', e)
}

// appendU writes r (at most U+FFFF) as \u and four lowercase hex digits.
func appendU(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// AppendStrings appends values as json.Marshal writes a []string: null
// when nil, [] when empty.
func AppendStrings(b []byte, values []string) []byte {
	if values == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, v)
	}
	return append(b, ']')
}

// AppendJSON appends p's JSON: exactly what json.Marshal(p) writes. It
// panics where json.Marshal fails (see the package's appenders above).
func (p *Profile) AppendJSON(b []byte) []byte {
	return append(AppendJSONMembers(append(b, '{'), p, true), '}')
}

// AppendJSONMembers appends the members of p's JSON, in json.Marshal's
// order and form, without the braces, so a document that extends the
// profile (the search index's) writes its own members after them. With
// money false the decimal amounts (totalSpent, averageTicket) are left
// out, for a document that keeps them in other fields.
func AppendJSONMembers(b []byte, p *Profile, money bool) []byte {
	b = appendContact(b, p)
	b = appendInstants(b, p)
	b = append(b, `,"totalPurchases":`...)
	b = strconv.AppendInt(b, p.TotalPurchases, 10)
	if money {
		b = appendCents(append(b, `,"totalSpent":`...), p.TotalSpent)
		b = appendCents(append(b, `,"averageTicket":`...), p.AverageTicket)
	}
	b = appendLists(b, p)
	b = strconv.AppendBool(append(b, `,"hasEmail":`...), p.HasEmail)
	b = strconv.AppendBool(append(b, `,"hasPhone":`...), p.HasPhone)
	return appendScores(b, p)
}

// appendContact writes the members from customerId to city.
func appendContact(b []byte, p *Profile) []byte {
	b = AppendString(append(b, `"customerId":`...), p.CustomerID)
	b = AppendString(append(b, `,"companyId":`...), p.CompanyID)
	b = AppendString(append(b, `,"name":`...), p.Name)
	b = AppendString(append(b, `,"email":`...), p.Email)
	b = AppendString(append(b, `,"phone":`...), p.Phone)
	b = AppendString(append(b, `,"gender":`...), p.Gender)
	b = AppendString(append(b, `,"genderRaw":`...), p.GenderRaw)
	return AppendString(append(b, `,"city":`...), p.City)
}

// appendInstants writes the members from createdAt to lastPurchaseAt.
func appendInstants(b []byte, p *Profile) []byte {
	b = appendTime(append(b, `,"createdAt":`...), p.CreatedAt)
	b = appendTime(append(b, `,"updatedAt":`...), p.UpdatedAt)
	b = appendTime(append(b, `,"firstPurchaseAt":`...), p.FirstPurchaseAt)
	return appendTime(append(b, `,"lastPurchaseAt":`...), p.LastPurchaseAt)
}

// appendLists writes the members from products to favoriteIngredients.
func appendLists(b []byte, p *Profile) []byte {
	b = AppendStrings(append(b, `,"products":`...), p.Products)
	b = AppendStrings(append(b, `,"favoriteProducts":`...), p.FavoriteProducts)
	b = AppendStrings(append(b, `,"ingredients":`...), p.Ingredients)
	return AppendStrings(append(b, `,"favoriteIngredients":`...), p.FavoriteIngredients)
}

// appendScores writes the members from recencyScore to the end.
func appendScores(b []byte, p *Profile) []byte {
	b = appendInt(append(b, `,"recencyScore":`...), p.RecencyScore)
	b = appendInt(append(b, `,"frequencyScore":`...), p.FrequencyScore)
	b = appendInt(append(b, `,"monetaryScore":`...), p.MonetaryScore)
	b = AppendString(append(b, `,"rfmGroup":`...), p.RFMGroup)
	b = appendFloat(append(b, `,"pAlive":`...), p.PAlive)
	return appendFloat(append(b, `,"expectedPurchases90d":`...), p.ExpectedPurchases90d)
}

// appendTime writes t as time.Time.MarshalJSON does: RFC 3339 with
// nanoseconds, in t's own offset, quoted; null when nil.
func appendTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	start := len(b) + 1
	b = t.AppendFormat(append(b, '"'), time.RFC3339Nano)
	if !validRFC3339(b[start:]) {
		panic("profile: encode JSON: instant " + string(b[start:]) + " is not valid RFC 3339")
	}
	return append(b, '"')
}

// validRFC3339 says whether s, written by AppendFormat(time.RFC3339Nano),
// is within MarshalJSON's limits: a four-digit year (a fifth digit or a
// sign puts something else than the dash at s[4]) and an offset under 24
// hours (a third hour digit puts a digit where the sign is).
func validRFC3339(s []byte) bool {
	if s[4] != '-' {
		return false
	}
	if s[len(s)-1] == 'Z' {
		return true
	}
	zone := s[len(s)-len("-07:00"):]
	return (zone[0] == '+' || zone[0] == '-') && (zone[1]-'0')*10+zone[2]-'0' < 24
}

// appendCents writes c as Cents.MarshalJSON does, refusing the one value
// it cannot write.
func appendCents(b []byte, c Cents) []byte {
	if c == math.MinInt64 {
		panic("profile: encode JSON: amount out of range")
	}
	return c.Append(b)
}

// appendInt writes *v in decimal, null when nil.
func appendInt(b []byte, v *int) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(*v), 10)
}

// appendFloat writes *v as json.Marshal writes a float64, null when nil:
// the shortest decimal that reads back as *v, in plain notation unless
// its magnitude is under 1e-6 or at least 1e21, where it has an exponent
// without a leading zero (1e-7, not 1e-07).
func appendFloat(b []byte, v *float64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	f := *v
	if math.IsNaN(f) || math.IsInf(f, 0) {
		panic("profile: encode JSON: score " + strconv.FormatFloat(f, 'g', -1, 64) + " is not a JSON number")
	}
	if abs := math.Abs(f); abs == 0 || (abs >= 1e-6 && abs < 1e21) {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	b = strconv.AppendFloat(b, f, 'e', -1, 64)
	// 'e' writes at least two exponent digits: drop a leading zero of a
	// negative one (positive exponents here are 21 and over).
	if n := len(b); b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1]
		b = b[:n-1]
	}
	return b
}
