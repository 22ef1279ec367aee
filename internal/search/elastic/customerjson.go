package elastic

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/reactivation/reactivation/internal/jsonobj"
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
	if err := jsonobj.Members(zero, func(k, v []byte) {
		keys, zeros = append(keys, string(k)), append(zeros, v)
	}); err != nil {
		panic("elastic: read the zero profile: " + err.Error())
	}
	if len(keys) > maxProfileKeys {
		panic("elastic: the profile has more fields than CustomerJSON holds")
	}
	return keys, zeros
}()

// maxProfileKeys bounds the profile's fields, so CustomerJSON holds a
// document's values on the stack.
const maxProfileKeys = 40

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
	var values [maxProfileKeys][]byte
	var bad error
	err := jsonobj.Members(src, func(k, v []byte) {
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
	var p profile.Profile
	for _, f := range fields {
		if i, ok := profileKey[f]; ok {
			if err := profile.DecodeField(&p, f, valueOr(values[i], i)); err != nil {
				return profile.Profile{}, nil, fmt.Errorf("decode customer: %w", err)
			}
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
		return profile.Cents(0).Append(nil), nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("not a whole number of cents: %.20q", v)
	}
	return profile.Cents(n).Append(nil), nil
}
