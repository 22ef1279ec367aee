package segment

import (
	"slices"
	"strings"
	"unicode"

	"github.com/reactivation/reactivation/internal/profile"
)

// phoneSuffixDigits is how many trailing phone digits are a token of their
// own, so a local number matches without its country code.
const phoneSuffixDigits = 8

// SearchTokens returns the tokens q is matched against, sorted and
// without duplicates: the folded words of the name and their letter-and-
// digit fragments ("maria-jose" gives "maria-jose", "maria", "jose"), the
// folded email, the phone's digits and their last eight. Both engines index
// exactly these.
func SearchTokens(p profile.Profile) []string {
	return TokensOf(profile.Fold(p.Name), p.Email, p.Phone)
}

// TokensOf is SearchTokens of a profile whose name is already folded
// (profile.Fold): a document writes the folded name beside its tokens.
func TokensOf(foldedName, email, phone string) []string {
	var tokens []string
	for _, word := range strings.Fields(foldedName) {
		tokens = append(tokens, word)
		tokens = append(tokens, strings.FieldsFunc(word, notAlphanumeric)...)
	}
	if email := profile.Fold(email); email != "" {
		tokens = append(tokens, email)
	}
	if digits := onlyDigits(phone); digits != "" {
		tokens = append(tokens, digits, digits[max(0, len(digits)-phoneSuffixDigits):])
	}
	slices.Sort(tokens)
	return slices.Compact(tokens)
}

// QueryTokens returns the tokens of q, each of which must be a prefix of
// one of a customer's SearchTokens: the folded words of q, a word written
// like a phone number ("+506", "8888-1234") reduced to its digits. Nil when
// f has no q.
func (f Filter) QueryTokens() []string {
	if f.Q == nil {
		return nil
	}
	var tokens []string
	for _, word := range strings.Fields(profile.Fold(*f.Q)) {
		if isPhoneLike(word) {
			word = onlyDigits(word)
		}
		tokens = append(tokens, word)
	}
	slices.Sort(tokens)
	return slices.Compact(tokens)
}

func notAlphanumeric(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// isPhoneLike reports a word of digits and phone punctuation with at least
// one digit.
func isPhoneLike(w string) bool {
	return strings.ContainsAny(w, "0123456789") &&
		strings.Trim(w, "0123456789+-().") == ""
}
