package profile

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Fold lowercases s, strips accents and collapses runs of white space, so
// "  SAN  José " and "san jose" compare equal. Filters fold their values
// with it, and the engines' folded copies (the search index's *Key fields,
// the PostgreSQL engine's keys) are made with it.
func Fold(s string) string {
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
