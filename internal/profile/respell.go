package profile

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/reactivation/reactivation/internal/jsonobj"
)

// jsonKeys are the members of a profile's JSON in AppendJSON's order, and
// jsonKeyAt the position of each.
var jsonKeys, jsonKeyAt = func() ([]string, map[string]int) {
	var keys []string
	at := map[string]int{}
	if err := jsonobj.Members(new(Profile).AppendJSON(nil), func(k, _ []byte) {
		at[string(k)] = len(keys)
		keys = append(keys, string(k))
	}); err != nil {
		panic("profile: read the zero profile's JSON: " + err.Error())
	}
	return keys, at
}()

// maxJSONKeys bounds jsonKeys, so Respell keeps the values on its stack.
const maxJSONKeys = 32

func init() {
	if len(jsonKeys) > maxJSONKeys {
		panic(fmt.Sprintf("profile: %d JSON members, more than maxJSONKeys", len(jsonKeys)))
	}
}

// Respell returns a profile's JSON written by another encoder as
// AppendJSON writes the same profile, byte for byte, without decoding the
// profile: PostgreSQL's jsonb output orders the members its own way, puts
// a space after every separator, escapes other characters (none of <, >,
// &, U+2028, U+2029; \b and \f where Go writes \u0008) and writes numbers
// as decimals (1e-7 as 0.0000001). Members are put back in order and
// copied without their spaces; the two scores are written again from
// their value; a string is decoded and written again only when its
// spelling may differ (a backslash, one of Go's escaped characters, or
// bytes that are not UTF-8), the rest copied. A document whose members
// are not exactly a profile's goes the long way (DecodeFields, then
// AppendJSON). A snapshot page of the PostgreSQL engine is encoded so.
func Respell(doc []byte) ([]byte, error) {
	var values [maxJSONKeys][]byte
	seen, odd := 0, false
	err := jsonobj.Members(doc, func(k, v []byte) {
		i, ok := jsonKeyAt[string(k)]
		if !ok || values[i] != nil {
			odd = true
			return
		}
		values[i] = v
		seen++
	})
	if err != nil {
		return nil, fmt.Errorf("respell profile: %w", err)
	}
	if odd || seen != len(jsonKeys) {
		p, err := DecodeFields(doc, nil)
		if err != nil {
			return nil, fmt.Errorf("respell profile: %w", err)
		}
		return p.AppendJSON(nil), nil
	}
	out := make([]byte, 0, len(doc))
	out = append(out, '{')
	for i, k := range jsonKeys {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(append(append(out, '"'), k...), '"', ':')
		if k == "pAlive" || k == "expectedPurchases90d" {
			out, err = respellFloat(out, values[i])
		} else {
			out, err = respellValue(out, values[i])
		}
		if err != nil {
			return nil, fmt.Errorf("respell profile: %s: %w", k, err)
		}
	}
	return append(out, '}'), nil
}

// respellValue appends the JSON value v (a scalar or an array of them, as
// jsonobj hands it: without the spaces around it) without the spaces
// between its elements, each string as AppendString writes it.
func respellValue(b, v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, jsonobj.ErrMalformed
	}
	switch v[0] {
	case '"':
		if sameSpelling(v[1 : len(v)-1]) {
			return append(b, v...), nil
		}
		var s string
		if err := decodeString(v, &s); err != nil {
			return nil, err
		}
		return AppendString(b, s), nil
	case '[':
		b = append(b, '[')
		n := 0
		var bad error
		err := jsonobj.Elements(v, func(e []byte) {
			if bad != nil {
				return
			}
			if n++; n > 1 {
				b = append(b, ',')
			}
			b, bad = respellValue(b, e)
		})
		if err = errors.Join(err, bad); err != nil {
			return nil, err
		}
		return append(b, ']'), nil
	case '{':
		return nil, fmt.Errorf("an object where a profile has none")
	}
	return append(b, v...), nil // a number, true, false or null
}

// sameSpelling reports whether AppendString writes the JSON string whose
// contents are s as s is: no escape, none of the characters it escapes
// (<, >, &, U+2028, U+2029) and valid UTF-8.
func sameSpelling(s []byte) bool {
	ascii := true
	for i, c := range s {
		switch {
		case c == '\\' || c == '<' || c == '>' || c == '&' || c < 0x20:
			return false
		case c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9):
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return ascii || utf8.Valid(s)
}

// respellFloat appends the JSON number or null v as appendFloat writes
// the same float64.
func respellFloat(b, v []byte) ([]byte, error) {
	f, err := decodeFloat(v)
	if err != nil {
		return nil, err
	}
	return appendFloat(b, f), nil
}
