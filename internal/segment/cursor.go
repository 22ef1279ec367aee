package segment

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
)

// cursor is what an opaque cursor encodes: the sort it was made for and
// the sort values of the last hit of its page.
type cursor struct {
	Sort   string `json:"s"`
	Values []any  `json:"v"`
}

// EncodeCursor returns the opaque cursor of a page, sorted by s, whose last
// hit had the sort values values (base64url of JSON).
func EncodeCursor(s Sort, values []any) string {
	b, err := json.Marshal(cursor{Sort: s.String(), Values: values})
	if err != nil {
		panic("segment: encode cursor: " + err.Error()) // engines pass plain values
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor returns the sort values EncodeCursor put in c, with numbers
// as json.Number. A malformed cursor, or one made for another sort, is a
// *ValidationError on field "cursor".
func DecodeCursor(c string, s Sort) ([]any, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, InvalidCursor()
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v cursor
	if err := dec.Decode(&v); err != nil || len(v.Values) == 0 {
		return nil, InvalidCursor()
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, InvalidCursor()
	}
	if v.Sort != s.String() {
		return nil, fieldError("cursor", "was made for sort %q, not %q", v.Sort, s.String())
	}
	return v.Values, nil
}

// InvalidCursor is the *ValidationError for a cursor this service did not
// make, or made for another engine or index layout.
func InvalidCursor() error {
	return fieldError("cursor", "is not a cursor this search returned")
}
