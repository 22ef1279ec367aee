package segment_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
	"github.com/reactivation/reactivation/internal/segment"
)

// FuzzDecode feeds arbitrary bodies through decoding, validation,
// normalisation and both compilers: nothing may panic, every rejection is a
// *ValidationError, normalising is a fixed point, the canonical form decodes
// back to the same filter, and the SQL has one argument per placeholder.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"gender":"mujer","city":"San José","minDaysSinceLastPurchase":90}`,
		`{"city":["a","B"],"maxDaysSinceLastPurchase":0,"lastPurchaseFrom":"2024-01-01","lastPurchaseTo":"2024-12-31"}`,
		`{"minTotalSpent":1.10,"maxTotalSpent":1e3,"minAverageTicket":0.5,"maxAverageTicket":"1"}`,
		`{"products":"Café","ingredients":["x"],"favoriteProducts":[],"favoriteIngredients":null}`,
		`{"hasEmail":true,"hasPhone":false,"neverPurchased":true,"q":"+506 8888-1234 maría","companyId":"C1"}`,
		`{"sort":"name:asc","size":5,"cursor":"eyJzIjoibmFtZTphc2MiLCJ2IjpbIngiLCJjMSJdfQ"}`,
		`{"minTotalPurchases":-1,"maxTotalPurchases":1.5,"gender":"x"}`,
		`[]`, `{"a":`, `{"q":"\u0000\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	loc, err := time.LoadLocation("America/Costa_Rica")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2024, 6, 15, 10, 0, 0, 0, loc)
	f.Fuzz(func(t *testing.T, data []byte) {
		filter, err := segment.Decode(data)
		if req, rerr := segment.DecodeSearchRequest(data); rerr == nil {
			compile(t, req.Filter, now, loc)
			_ = req.Canonical()
		} else {
			mustValidation(t, rerr)
		}
		if err != nil {
			mustValidation(t, err)
			return
		}
		again, err := filter.Normalize()
		if err != nil || string(again.Canonical()) != string(filter.Canonical()) {
			t.Fatalf("normalising %s again: %v, %s", filter.Canonical(), err, again.Canonical())
		}
		back, err := segment.Decode(filter.Canonical())
		if err != nil || string(back.Canonical()) != string(filter.Canonical()) {
			t.Fatalf("canonical %s decodes to %v, %s", filter.Canonical(), err, back.Canonical())
		}
		compile(t, filter, now, loc)
	})
}

func mustValidation(t *testing.T, err error) {
	t.Helper()
	var ve *segment.ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) == 0 {
		t.Fatalf("rejection %v is not a *segment.ValidationError with field errors", err)
	}
}

// compile runs both compilers on a valid filter.
func compile(t *testing.T, f segment.Filter, now time.Time, loc *time.Location) {
	t.Helper()
	b := f.Bounds(now, loc)
	if _, err := json.Marshal(elastic.Query(f, b)); err != nil {
		t.Fatalf("encode query: %v", err)
	}
	where, args := pgsearch.Where(f, b)
	for i := range args {
		if !strings.Contains(where, "$"+itoa(i+1)) {
			t.Fatalf("argument %d unused in %s", i+1, where)
		}
	}
	if strings.Contains(where, "$"+itoa(len(args)+1)) {
		t.Fatalf("placeholder $%d without argument in %s", len(args)+1, where)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
