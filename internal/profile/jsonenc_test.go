package profile_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/profile/profiletest"
)

// withoutMoney is the profile's JSON without its decimal amounts, the way
// the search document leaves them out: shadowed by empty fields.
type withoutMoney struct {
	profile.Profile
	TotalSpent    json.RawMessage `json:"totalSpent,omitempty"`
	AverageTicket json.RawMessage `json:"averageTicket,omitempty"`
}

// TestAppendJSONIsMarshal: for random profiles, AppendJSON writes what
// json.Marshal writes, after what the buffer held, and
// AppendJSONMembers without money what json.Marshal writes of the
// profile with its amounts shadowed.
func TestAppendJSONIsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		p := profiletest.Profile(r)
		want, err := json.Marshal(p)
		require.NoError(t, err)
		require.Equal(t, "prefix"+string(want), string(p.AppendJSON([]byte("prefix"))))
		want, err = json.Marshal(withoutMoney{Profile: p})
		require.NoError(t, err)
		got := append(profile.AppendJSONMembers([]byte("{"), &p, false), '}')
		require.Equal(t, string(want), string(got))
	}
}

// TestAppendJSONEmpty: the zero profile, and one with every list empty.
func TestAppendJSONEmpty(t *testing.T) {
	for _, p := range []profile.Profile{{}, {Products: []string{}, FavoriteProducts: []string{}, Ingredients: []string{}, FavoriteIngredients: []string{}}} {
		want, err := json.Marshal(p)
		require.NoError(t, err)
		require.Equal(t, string(want), string(p.AppendJSON(nil)))
	}
}

// TestAppendJSONPanicsWhereMarshalFails: at the limits of what
// json.Marshal writes (years 0 and 9999, offsets of a day less a second,
// the amounts next to math.MinInt64) AppendJSON writes the same; past
// them, where json.Marshal fails, it panics.
func TestAppendJSONPanicsWhereMarshalFails(t *testing.T) {
	at := func(year int, offset int) *time.Time {
		t := time.Date(year, 6, 1, 12, 0, 0, 0, time.FixedZone("", offset))
		return &t
	}
	nan, inf, day := math.NaN(), math.Inf(-1), 24*3600
	cases := []struct {
		name string
		p    profile.Profile
	}{
		{"year 0", profile.Profile{CreatedAt: at(0, 0)}},
		{"year 9999", profile.Profile{UpdatedAt: at(9999, 0)}},
		{"year -1", profile.Profile{FirstPurchaseAt: at(-1, 0)}},
		{"year 10000", profile.Profile{LastPurchaseAt: at(10000, 0)}},
		{"offset under a day", profile.Profile{CreatedAt: at(2024, day-1)}},
		{"negative offset under a day", profile.Profile{CreatedAt: at(2024, 1-day)}},
		{"offset of a day", profile.Profile{CreatedAt: at(2024, day)}},
		{"negative offset of a day", profile.Profile{CreatedAt: at(2024, -day)}},
		{"offset of five days", profile.Profile{CreatedAt: at(2024, 5*day)}},
		{"NaN", profile.Profile{PAlive: &nan}},
		{"infinity", profile.Profile{ExpectedPurchases90d: &inf}},
		{"least amount", profile.Profile{TotalSpent: math.MinInt64 + 1}},
		{"amount math.MinInt64", profile.Profile{AverageTicket: math.MinInt64}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, err := json.Marshal(c.p)
			if err != nil {
				require.Panics(t, func() { c.p.AppendJSON(nil) })
				return
			}
			require.Equal(t, string(want), string(c.p.AppendJSON(nil)))
		})
	}
}

// TestAppendStringIsMarshal: every character (and every stray or
// truncated byte sequence of up to two bytes) alone and between plain
// text, and random strings, are written as json.Marshal writes them.
func TestAppendStringIsMarshal(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want, err := json.Marshal(s)
		require.NoError(t, err)
		if got := profile.AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, json.Marshal writes %s", s, got, want)
		}
	}
	for c := range rune(utf8.MaxRune + 1) {
		check(string(c))
		check("ab" + string(c) + "cd")
	}
	for c := range 1 << 16 {
		check(string([]byte{byte(c >> 8), byte(c)}))
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		check(profiletest.String(r))
	}
	check(strings.Repeat("long plain text ", 1000))
}

// TestAppendStringEscapes writes out what json.Marshal of this Go does
// with the characters it escapes: \b and \f short, the others of
// U+0000-U+001F as \u00XX in lowercase, HTML's three, U+2028 and U+2029,
// a byte that is not UTF-8 replaced; DEL and / as they are.
func TestAppendStringEscapes(t *testing.T) {
	s := "\b\f\n\r\t\x00\x1f\x1b\"\\<>&\u2028\u2029\xff\x7f/é"
	want := `"\b\f\n\r\t\u0000\u001f\u001b\"\\\u003c\u003e\u0026\u2028\u2029\ufffd` + "\x7f/é\""
	marshalled, err := json.Marshal(s)
	require.NoError(t, err)
	require.Equal(t, want, string(marshalled))
	require.Equal(t, want, string(profile.AppendString(nil, s)))
}

// FuzzAppendString: any string is written as json.Marshal writes it.
func FuzzAppendString(f *testing.F) {
	for _, s := range profiletest.Pieces {
		f.Add(s)
		f.Add("x" + s + "y" + s)
	}
	f.Add(strings.Join(profiletest.Pieces, ""))
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := profile.AppendString([]byte("[1,"), s); string(got) != "[1,"+string(want) {
			t.Fatalf("AppendString(%q) = %s, json.Marshal writes %s", s, got[3:], want)
		}
	})
}

// oldFingerprint is Fingerprint as it was made before AppendJSON: the
// fingerprints of indexed documents are these.
func oldFingerprint(p profile.Profile) string {
	p.RecencyScore, p.FrequencyScore, p.MonetaryScore, p.RFMGroup = nil, nil, nil, ""
	p.PAlive, p.ExpectedPurchases90d = nil, nil
	for _, t := range []**time.Time{&p.CreatedAt, &p.UpdatedAt, &p.FirstPurchaseAt, &p.LastPurchaseAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic("profile: encode for fingerprint: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// TestFingerprintIsTheOldFingerprint: for random profiles, Fingerprint
// is what it was, or panics where it did (an instant of year 0 or 9999
// whose UTC is out of range); AppendFingerprint appends the same and
// leaves the profile as it was.
func TestFingerprintIsTheOldFingerprint(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	edges := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, profiletest.Zones[3]),       // -0001 in UTC
		time.Date(0, 1, 1, 12, 0, 0, 0, profiletest.Zones[3]),      // 0000 in UTC
		time.Date(9999, 12, 31, 23, 0, 0, 0, profiletest.Zones[2]), // 10000 in UTC
		time.Date(9999, 12, 31, 23, 59, 59, 999, time.UTC),         // the last instant written
	}
	for i := range 20000 {
		p := profiletest.Profile(r)
		if i < len(edges) {
			p.LastPurchaseAt = &edges[i]
		}
		want, panicked := fingerprintOrPanic(oldFingerprint, p)
		got, gotPanicked := fingerprintOrPanic(profile.Fingerprint, p)
		require.Equal(t, panicked, gotPanicked)
		require.Equal(t, want, got)
		if panicked {
			continue
		}
		before, err := json.Marshal(p)
		require.NoError(t, err)
		require.Equal(t, "fp:"+want, string(profile.AppendFingerprint([]byte("fp:"), &p)))
		after, err := json.Marshal(p)
		require.NoError(t, err)
		require.Equal(t, string(before), string(after))
	}
}

// fingerprintOrPanic is fingerprint(p), or whether it panicked.
func fingerprintOrPanic(fingerprint func(profile.Profile) string, p profile.Profile) (fp string, panicked bool) {
	defer func() {
		if recover() != nil {
			fp, panicked = "", true
		}
	}()
	return fingerprint(p), false
}

// BenchmarkAppendJSON compares AppendJSON, into a reused buffer, with
// json.Marshal.
func BenchmarkAppendJSON(b *testing.B) {
	p := profiletest.Typical()
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = p.AppendJSON(buf[:0])
		}
	})
}

// BenchmarkAppendString compares AppendString with json.Marshal on a
// string with accents and one character to escape.
func BenchmarkAppendString(b *testing.B) {
	s := "Café con leche & azúcar, San José, número 42"
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendString", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = profile.AppendString(buf[:0], s)
		}
	})
}

// BenchmarkFingerprint compares Fingerprint with its json.Marshal form.
func BenchmarkFingerprint(b *testing.B) {
	p := profiletest.Typical()
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			oldFingerprint(p)
		}
	})
	b.Run("Fingerprint", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			profile.Fingerprint(p)
		}
	})
	b.Run("AppendFingerprint", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = profile.AppendFingerprint(buf[:0], &p)
		}
	})
}

// TestCentsTextIsTwoDecimals: Cents.String (and so MarshalJSON and the
// encoders) writes what the formula it replaced wrote, for every sign
// and size but math.MinInt64.
func TestCentsTextIsTwoDecimals(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for range 20000 {
		c := profiletest.Cents(r)
		v, sign := int64(c), ""
		if v < 0 {
			sign, v = "-", -v
		}
		require.Equal(t, fmt.Sprintf("%s%d.%02d", sign, v/100, v%100), c.String())
	}
}
