package segment_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/reactivation/reactivation/internal/segment"
)

func TestCursorRoundTrip(t *testing.T) {
	s := segment.Sort{Field: segment.SortTotalSpent}
	c := segment.EncodeCursor(s, []any{json.Number("-9223372036854775808"), "C-1"})
	got, err := segment.DecodeCursor(c, s)
	noErr(t, err)
	equal(t, []any{json.Number("-9223372036854775808"), "C-1"}, got)
}

func TestCursorMalformed(t *testing.T) {
	s := segment.DefaultSort
	for _, c := range []string{
		"not base64!",
		base64.RawURLEncoding.EncodeToString([]byte("[1,2]")),
		base64.RawURLEncoding.EncodeToString([]byte(`{"s":"lastPurchaseAt:desc","v":[]}`)),
		base64.RawURLEncoding.EncodeToString([]byte(`{"s":"lastPurchaseAt:desc","v":[1,"a"]} x`)),
	} {
		_, err := segment.DecodeCursor(c, s)
		equal(t, []segment.FieldError{{Field: "cursor", Message: "is not a cursor this search returned"}}, fieldErrors(t, err), c)
	}
}
