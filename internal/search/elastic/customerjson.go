package elastic

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/reactivation/reactivation/internal/profile"
)

// The profile's JSON keys in the order json.Marshal writes them, with what
// it writes for each field's zero value (for a key a document lacks).
var profileKeys, profileZeros = func() ([]string, [][]byte) {
	zero, err := json.Marshal(profile.Profile{})
	if err != nil {
		panic("elastic: encode the zero profile: " + err.Error())
	}
	var keys []string
	var zeros [][]byte
	if err := members(zero, func(k, v []byte) {
		keys, zeros = append(keys, string(k)), append(zeros, v)
	}); err != nil {
		panic("elastic: read the zero profile: " + err.Error())
	}
	return keys, zeros
}()

// profileKey is each key's place in profileKeys.
var profileKey = func() map[string]int {
	m := make(map[string]int, len(profileKeys))
	for i, k := range profileKeys {
		m[k] = i
	}
	return m
}()

// The amounts: a document keeps them in cents under other names.
var (
	totalSpentAt    = profileKey["totalSpent"]
	averageTicketAt = profileKey["averageTicket"]
	centsOf         = map[string]int{"totalSpentCents": totalSpentAt, "averageTicketCents": averageTicketAt}
)

// CustomerJSON turns a whole document's _source into the customer's API
// JSON in one pass over its bytes: exactly what json.Marshal of
// DecodeSource(src) writes, without decoding the lists (products,
// ingredients) or any string. The profile's values are copied as the
// document holds them, which is as json.Marshal wrote them when the
// document was indexed; the engine's own fields are dropped; the amounts
// come from their cents; a field the document lacks is written as its zero
// value. fields (JSON names) are decoded into the returned profile too.
// src must be valid JSON (a decoded page's _source is).
func CustomerJSON(src []byte, fields []string) (profile.Profile, []byte, error) {
	var values [32][]byte
	if len(profileKeys) > len(values) {
		panic("elastic: the profile has more fields than CustomerJSON holds")
	}
	var bad error
	err := members(src, func(k, v []byte) {
		if i, ok := profileKey[string(k)]; ok {
			if i != totalSpentAt && i != averageTicketAt { // a document written before money was kept once
				values[i] = v
			}
			return
		}
		if i, ok := centsOf[string(k)]; ok {
			c, err := cents(v)
			if err != nil && bad == nil {
				bad = fmt.Errorf("%s: %w", k, err)
			}
			values[i] = c
		}
	})
	if err = errors.Join(err, bad); err != nil {
		return profile.Profile{}, nil, fmt.Errorf("decode customer: %w", err)
	}
	out := make([]byte, 0, len(src))
	out = append(out, '{')
	for i, k := range profileKeys {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(append(append(append(out, '"'), k...), '"', ':'), valueOr(values[i], i)...)
	}
	out = append(out, '}')
	// The fields asked for, decoded from a small object of their values.
	var p profile.Profile
	if len(fields) > 0 {
		sub := append(make([]byte, 0, 256), '{')
		for _, f := range fields {
			i, ok := profileKey[f]
			if !ok {
				continue
			}
			if len(sub) > 1 {
				sub = append(sub, ',')
			}
			sub = append(append(append(append(sub, '"'), f...), '"', ':'), valueOr(values[i], i)...)
		}
		if err := json.Unmarshal(append(sub, '}'), &p); err != nil {
			return profile.Profile{}, nil, fmt.Errorf("decode customer: %w", err)
		}
	}
	return p, out, nil
}

// valueOr is v, or the zero value of profile field i when v is nil.
func valueOr(v []byte, i int) []byte {
	if v == nil {
		return profileZeros[i]
	}
	return v
}

// cents writes an amount kept in cents (a JSON integer, or null for none)
// as the profile's JSON writes it.
func cents(v []byte) ([]byte, error) {
	if string(v) == "null" {
		return profile.Cents(0).MarshalJSON()
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("not a whole number of cents: %.20q", v)
	}
	return profile.Cents(n).MarshalJSON()
}

// members calls fn with the key (its bytes between the quotes) and the
// value (its JSON) of each member of the JSON object obj, in order. It
// finds where each value ends and checks no more: obj is valid JSON.
func members(obj []byte, fn func(key, value []byte)) error {
	i := space(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return errors.New("not a JSON object")
	}
	i = space(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return nil
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return errors.New("malformed object: expected a key")
		}
		end, err := stringEnd(obj, i)
		if err != nil {
			return err
		}
		key := obj[i+1 : end-1]
		i = space(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return errors.New("malformed object: expected a colon")
		}
		i = space(obj, i+1)
		end, err = valueEnd(obj, i)
		if err != nil {
			return err
		}
		fn(key, obj[i:end])
		i = space(obj, end)
		if i >= len(obj) {
			return errors.New("malformed object: unterminated")
		}
		switch obj[i] {
		case ',':
			i = space(obj, i+1)
		case '}':
			return nil
		default:
			return errors.New("malformed object: expected a comma")
		}
	}
}

// space returns the first index from i that is not JSON white space.
func space(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string that starts at b[i] ('"').
func stringEnd(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errors.New("malformed object: unterminated string")
}

// valueEnd returns the index after the JSON value that starts at b[i].
func valueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("malformed object: expected a value")
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := stringEnd(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("malformed object: unterminated value")
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return 0, errors.New("malformed object: expected a value")
	}
	return j, nil
}
