package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/reactivation/reactivation/internal/jsonobj"
)

// DecodeFields decodes the fields named (JSON names) of a profile's JSON,
// leaving the others empty: their values are stepped over, not decoded,
// which is most of the cost when a caller needs a few columns of wide
// profiles (lists of products and ingredients). No fields decodes all.
// The result is json.Unmarshal's for the profile's own key spellings (the
// tests compare them), without reflection.
func DecodeFields(doc []byte, fields []string) (Profile, error) {
	var p Profile
	var bad error
	err := jsonobj.Members(doc, func(k, v []byte) {
		if bad == nil && (len(fields) == 0 || slices.Contains(fields, string(k))) {
			bad = DecodeField(&p, string(k), v)
		}
	})
	if err != nil {
		return Profile{}, err
	}
	return p, bad
}

// DecodeField sets the field of p whose JSON name is key from its JSON
// value v, as json.Unmarshal would, without reflection: a snapshot
// decodes a dozen fields of every customer it writes. Strings without
// escapes are taken as they are; anything else goes through
// encoding/json. An unknown key is ignored.
func DecodeField(p *Profile, key string, v []byte) error {
	if err := decodeField(p, key, v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

func decodeField(p *Profile, key string, v []byte) error {
	if s := stringField(p, key); s != nil {
		return decodeString(v, s)
	}
	var err error
	switch key {
	case "createdAt":
		p.CreatedAt, err = decodeTime(v)
	case "updatedAt":
		p.UpdatedAt, err = decodeTime(v)
	case "firstPurchaseAt":
		p.FirstPurchaseAt, err = decodeTime(v)
	case "lastPurchaseAt":
		p.LastPurchaseAt, err = decodeTime(v)
	case "totalPurchases":
		if !isNull(v) {
			p.TotalPurchases, err = strconv.ParseInt(string(v), 10, 64)
		}
	case "totalSpent":
		err = decodeCents(v, &p.TotalSpent)
	case "averageTicket":
		err = decodeCents(v, &p.AverageTicket)
	case "pAlive":
		p.PAlive, err = decodeFloat(v)
	case "expectedPurchases90d":
		p.ExpectedPurchases90d, err = decodeFloat(v)
	case "products":
		p.Products, err = decodeStrings(v)
	case "favoriteProducts":
		p.FavoriteProducts, err = decodeStrings(v)
	case "ingredients":
		p.Ingredients, err = decodeStrings(v)
	case "favoriteIngredients":
		p.FavoriteIngredients, err = decodeStrings(v)
	default:
		// Booleans and scores: small, through encoding/json.
		target := otherField(p, key)
		if target == nil {
			return nil
		}
		err = json.Unmarshal(v, target)
	}
	return err
}

// stringField is p's string field of JSON name key, nil for another key.
func stringField(p *Profile, key string) *string {
	switch key {
	case "customerId":
		return &p.CustomerID
	case "companyId":
		return &p.CompanyID
	case "name":
		return &p.Name
	case "email":
		return &p.Email
	case "phone":
		return &p.Phone
	case "gender":
		return &p.Gender
	case "genderRaw":
		return &p.GenderRaw
	case "city":
		return &p.City
	case "rfmGroup":
		return &p.RFMGroup
	}
	return nil
}

// otherField is a pointer to p's boolean or score field of JSON
// name key, nil for another key.
func otherField(p *Profile, key string) any {
	switch key {
	case "hasEmail":
		return &p.HasEmail
	case "hasPhone":
		return &p.HasPhone
	case "recencyScore":
		return &p.RecencyScore
	case "frequencyScore":
		return &p.FrequencyScore
	case "monetaryScore":
		return &p.MonetaryScore
	}
	return nil
}

func isNull(v []byte) bool { return string(v) == "null" }

// decodeString sets *s from a JSON string; null leaves it, as
// json.Unmarshal does. A string with no escape and valid UTF-8 is its
// bytes; json.Unmarshal unquotes the rest (escapes, invalid bytes).
func decodeString(v []byte, s *string) error {
	if isNull(v) {
		return nil
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		in := v[1 : len(v)-1]
		if bytes.IndexByte(in, '\\') < 0 && bytes.IndexByte(in, '"') < 0 && utf8.Valid(in) {
			*s = string(in)
			return nil
		}
	}
	return json.Unmarshal(v, s)
}

// decodeStrings reads a JSON array of strings: nil for null, empty (not
// nil) for [], as json.Unmarshal does.
func decodeStrings(v []byte) ([]string, error) {
	if isNull(v) {
		return nil, nil
	}
	out := []string{}
	var err error
	walk := jsonobj.Elements(v, func(e []byte) {
		var s string
		if err == nil {
			err = decodeString(e, &s)
			out = append(out, s)
		}
	})
	if err = errors.Join(walk, err); err != nil {
		return nil, err
	}
	return out, nil
}

func decodeTime(v []byte) (*time.Time, error) {
	if isNull(v) {
		return nil, nil
	}
	t := new(time.Time)
	return t, t.UnmarshalJSON(v)
}

func decodeFloat(v []byte) (*float64, error) {
	if isNull(v) {
		return nil, nil
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return &f, err
}

func decodeCents(v []byte, c *Cents) error {
	if isNull(v) {
		return nil
	}
	return c.UnmarshalJSON(v)
}
