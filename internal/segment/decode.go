package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"strconv"

	"github.com/reactivation/reactivation/internal/profile"
)

// Decode reads a filter object (the "filter" of asynchronous requests),
// strictly: unknown fields, duplicate fields and wrong types are errors.
// It returns the normalised filter, or a *ValidationError naming every bad
// field: those of the wrong type, then those whose values are invalid. JSON null is the same as an absent field.
func Decode(data []byte) (Filter, error) {
	fields, err := decodeObject(data)
	if err != nil {
		return Filter{}, err
	}
	var f Filter
	var p problems
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		decodeFilterField(&f, name, fields[name], &p)
	}
	nf, err := f.Normalize()
	if p = append(p, validationErrors(err)...); len(p) > 0 {
		return Filter{}, p.err()
	}
	return nf, nil
}

// UnmarshalJSON decodes a filter strictly and normalises it, as Decode
// does, so a Filter nested in a payload is validated as it is read.
func (f *Filter) UnmarshalJSON(data []byte) error {
	v, err := Decode(data)
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// decodeFilterField decodes one filter field into f, reporting an unknown
// name or a wrong type.
func decodeFilterField(f *Filter, name string, raw json.RawMessage, p *problems) {
	dec, ok := filterFields[name]
	if !ok {
		p.add(name, "unknown field")
		return
	}
	if string(raw) == "null" {
		return
	}
	if msg := dec(f, raw); msg != "" {
		p.add(name, "%s", msg)
	}
}

// fieldDecoder decodes one JSON value into its field of a Filter and
// returns a problem message, or "" when the value is good.
type fieldDecoder func(f *Filter, raw json.RawMessage) string

var filterFields = map[string]fieldDecoder{
	"gender":                   listField(func(f *Filter) *StringList { return &f.Gender }),
	"city":                     listField(func(f *Filter) *StringList { return &f.City }),
	"minDaysSinceLastPurchase": field(func(f *Filter) **int64 { return &f.MinDaysSinceLastPurchase }, decodeInt),
	"maxDaysSinceLastPurchase": field(func(f *Filter) **int64 { return &f.MaxDaysSinceLastPurchase }, decodeInt),
	"lastPurchaseFrom":         field(func(f *Filter) **string { return &f.LastPurchaseFrom }, decodeString),
	"lastPurchaseTo":           field(func(f *Filter) **string { return &f.LastPurchaseTo }, decodeString),
	"minTotalPurchases":        field(func(f *Filter) **int64 { return &f.MinTotalPurchases }, decodeInt),
	"maxTotalPurchases":        field(func(f *Filter) **int64 { return &f.MaxTotalPurchases }, decodeInt),
	"minTotalSpent":            field(func(f *Filter) **profile.Cents { return &f.MinTotalSpent }, decodeMoney),
	"maxTotalSpent":            field(func(f *Filter) **profile.Cents { return &f.MaxTotalSpent }, decodeMoney),
	"minAverageTicket":         field(func(f *Filter) **profile.Cents { return &f.MinAverageTicket }, decodeMoney),
	"maxAverageTicket":         field(func(f *Filter) **profile.Cents { return &f.MaxAverageTicket }, decodeMoney),
	"products":                 listField(func(f *Filter) *StringList { return &f.Products }),
	"ingredients":              listField(func(f *Filter) *StringList { return &f.Ingredients }),
	"favoriteProducts":         listField(func(f *Filter) *StringList { return &f.FavoriteProducts }),
	"favoriteIngredients":      listField(func(f *Filter) *StringList { return &f.FavoriteIngredients }),
	"hasEmail":                 field(func(f *Filter) **bool { return &f.HasEmail }, decodeBool),
	"hasPhone":                 field(func(f *Filter) **bool { return &f.HasPhone }, decodeBool),
	"neverPurchased":           field(func(f *Filter) **bool { return &f.NeverPurchased }, decodeBool),
	"q":                        field(func(f *Filter) **string { return &f.Q }, decodeString),
	"companyId":                field(func(f *Filter) **string { return &f.CompanyID }, decodeString),
	"rfmGroup":                 listField(func(f *Filter) *StringList { return &f.RFMGroup }),
	"minRecencyScore":          field(func(f *Filter) **int64 { return &f.MinRecencyScore }, decodeInt),
	"maxRecencyScore":          field(func(f *Filter) **int64 { return &f.MaxRecencyScore }, decodeInt),
	"minFrequencyScore":        field(func(f *Filter) **int64 { return &f.MinFrequencyScore }, decodeInt),
	"minMonetaryScore":         field(func(f *Filter) **int64 { return &f.MinMonetaryScore }, decodeInt),
	"minPAlive":                field(func(f *Filter) **float64 { return &f.MinPAlive }, decodeFloat),
	"maxPAlive":                field(func(f *Filter) **float64 { return &f.MaxPAlive }, decodeFloat),
}

// field decodes a scalar with dec and stores a pointer to it.
func field[T any](ptr func(*Filter) **T, dec func(json.RawMessage) (T, string)) fieldDecoder {
	return func(f *Filter, raw json.RawMessage) string {
		v, msg := dec(raw)
		if msg == "" {
			*ptr(f) = &v
		}
		return msg
	}
}

// listField decodes a string or a list of strings.
func listField(ptr func(*Filter) *StringList) fieldDecoder {
	return func(f *Filter, raw json.RawMessage) string {
		if raw[0] == '"' {
			s, msg := decodeString(raw)
			*ptr(f) = StringList{s}
			return msg
		}
		var list []*string
		if raw[0] != '[' || json.Unmarshal(raw, &list) != nil {
			return "must be a string or a list of strings"
		}
		out := make(StringList, len(list))
		for i, s := range list {
			if s == nil {
				return "must be a string or a list of strings"
			}
			out[i] = *s
		}
		*ptr(f) = out
		return ""
	}
}

func decodeString(raw json.RawMessage) (string, string) {
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", "must be a string"
	}
	return s, ""
}

func decodeBool(raw json.RawMessage) (bool, string) {
	switch string(raw) {
	case "true":
		return true, ""
	case "false":
		return false, ""
	}
	return false, "must be true or false"
}

func decodeInt(raw json.RawMessage) (int64, string) {
	if !isNumber(raw) {
		return 0, "must be an integer"
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, "must be an integer"
	}
	return v, ""
}

func decodeFloat(raw json.RawMessage) (float64, string) {
	if !isNumber(raw) {
		return 0, "must be a number"
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, "must be a number"
	}
	return v + 0, "" // + 0 turns -0 into 0
}

func decodeMoney(raw json.RawMessage) (profile.Cents, string) {
	if !isNumber(raw) {
		return 0, "must be a number"
	}
	v, err := profile.ParseCents(string(raw))
	if err != nil {
		return 0, "must be an amount with at most two decimal places"
	}
	return v, ""
}

func isNumber(raw json.RawMessage) bool {
	return raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9'
}

// decodeObject splits a JSON object into its members, rejecting anything
// else, duplicate names and trailing data.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	malformed := func() error { return fieldError("", "body must be one JSON object") }
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, malformed()
	}
	fields := make(map[string]json.RawMessage)
	var p problems
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed()
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, malformed()
		}
		if _, dup := fields[name]; dup {
			p.add(name, "duplicate field")
		}
		fields[name] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, malformed()
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed()
	}
	return fields, p.err()
}
