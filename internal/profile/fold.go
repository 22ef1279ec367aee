package profile

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Fold lowercases s, strips accents and collapses runs of white space, so
// "  SAN  José " and "san jose" compare equal. Filters fold their values
// with it, and the engines' folded copies (the search index's *Key fields,
// the PostgreSQL engine's keys) are made with it.
func Fold(s string) string {
	if f, ok := foldASCII(s); ok {
		return f
	}
	return foldUnicode(s)
}

// foldUnicode is Fold of any s: NFD, then the marks dropped, lower case
// and white space collapsed.
func foldUnicode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// foldASCII is Fold of an ASCII s (ok false for any other): no accent to
// strip and nothing for NFD to decompose, so only upper case and white
// space change. An s already folded is returned as it is, unallocated.
func foldASCII(s string) (string, bool) {
	folded := true
	prev := byte(' ') // a leading space is not kept
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			return "", false
		case 'A' <= c && c <= 'Z', asciiSpace(c) && (c != ' ' || asciiSpace(prev)):
			folded = false
		}
		prev = c
	}
	if folded && (len(s) == 0 || !asciiSpace(s[len(s)-1])) {
		return s, true
	}
	b := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if asciiSpace(c) {
			space = len(b) > 0
			continue
		}
		if space {
			b = append(b, ' ')
			space = false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b), true
}

// asciiSpace reports the ASCII characters unicode.IsSpace reports.
func asciiSpace(c byte) bool {
	return c == ' ' || '\t' <= c && c <= '\r'
}

// FoldTerm is Fold for values drawn from a catalogue (product and
// ingredient names, cities): an index write folds some sixty of them a
// document, out of a catalogue of hundreds or thousands. The folds of the
// first foldTermsMax distinct values are kept for the process's life;
// past that, values are folded each time.
func FoldTerm(v string) string {
	return foldTerms.get(v)
}

// FoldTerms is FoldTerm of each of values, a new slice (empty, never nil,
// for none): an engine's folded copy of a catalogue list.
func FoldTerms(values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = FoldTerm(v)
	}
	return out
}

var foldTerms foldCache

const foldTermsMax = 100_000

// foldCache keeps folds for FoldTerm. Reads are a plain map lookup in an
// immutable map (a sync.Map, boxing every key in an interface, took two
// seconds of a full sync's twenty at 800k customers); a value not in it
// is folded and added, under the lock, to a copy that replaces the read
// map once it has been missed as many times as it has entries, so each
// value is copied a bounded number of times on average (the scheme of
// sync.Map, with string keys).
type foldCache struct {
	read   atomic.Pointer[map[string]string]
	mu     sync.Mutex
	dirty  map[string]string // read's entries and the newer ones; nil when none is newer
	misses int
}

func (c *foldCache) get(v string) string {
	m := c.read.Load()
	if m != nil {
		if f, ok := (*m)[v]; ok {
			return f
		}
		if len(*m) >= foldTermsMax { // full: no more are kept
			return Fold(v)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.dirty[v]
	if !ok {
		f = Fold(v)
		if c.kept() < foldTermsMax {
			if c.dirty == nil {
				c.dirty = map[string]string{}
				if m := c.read.Load(); m != nil {
					c.dirty = maps.Clone(*m)
				}
			}
			c.dirty[v] = f
		}
	}
	if c.dirty != nil {
		if c.misses++; c.misses >= len(c.dirty) {
			m := c.dirty
			c.read.Store(&m)
			c.dirty, c.misses = nil, 0
		}
	}
	return f
}

// kept is how many folds the cache holds; the caller holds mu.
func (c *foldCache) kept() int {
	if c.dirty != nil {
		return len(c.dirty)
	}
	if m := c.read.Load(); m != nil {
		return len(*m)
	}
	return 0
}

// Gender values after normalisation.
const (
	GenderFemale  = "female"
	GenderMale    = "male"
	GenderOther   = "other"
	GenderUnknown = "unknown"
)

var genderAliases = map[string]string{
	"mujer": GenderFemale, "female": GenderFemale, "f": GenderFemale, "femenino": GenderFemale, "fem": GenderFemale,
	"hombre": GenderMale, "male": GenderMale, "m": GenderMale, "masculino": GenderMale, "masc": GenderMale,
}

// NormalizeGender maps a raw source value to female, male, unknown (empty)
// or other, after folding case, accents and spaces.
func NormalizeGender(raw string) string {
	f := strings.ReplaceAll(Fold(raw), " ", "")
	if f == "" {
		return GenderUnknown
	}
	if g, ok := genderAliases[f]; ok {
		return g
	}
	if f == GenderOther || f == GenderUnknown {
		return f
	}
	return GenderOther
}
