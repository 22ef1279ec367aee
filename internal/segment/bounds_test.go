package segment_test

import (
	"testing"
	"time"

	"github.com/reactivation/reactivation/internal/segment"
)

func TestBounds(t *testing.T) {
	loc, err := time.LoadLocation("America/Costa_Rica") // UTC-6, no DST
	noErr(t, err)
	// 23:30 on 2024-06-15 in Costa Rica is already the 16th in UTC: days
	// count from the local date.
	now := time.Date(2024, 6, 15, 23, 30, 0, 0, loc)
	local := func(y int, m time.Month, d int) *time.Time {
		v := time.Date(y, m, d, 0, 0, 0, 0, loc).UTC()
		return &v
	}
	tests := []struct {
		body string
		want segment.Bounds
	}{
		{`{}`, segment.Bounds{}},
		// On or before today-90 (2024-03-17): before the 18th's midnight.
		{`{"minDaysSinceLastPurchase":90}`, segment.Bounds{Before: local(2024, 3, 18)}},
		{`{"minDaysSinceLastPurchase":0}`, segment.Bounds{Before: local(2024, 6, 16)}},
		{`{"maxDaysSinceLastPurchase":90}`, segment.Bounds{From: local(2024, 3, 17)}},
		{`{"maxDaysSinceLastPurchase":0}`, segment.Bounds{From: local(2024, 6, 15)}},
		{`{"lastPurchaseFrom":"2024-01-01","lastPurchaseTo":"2024-01-31"}`, segment.Bounds{From: local(2024, 1, 1), Before: local(2024, 2, 1)}},
		// The tighter of days and dates wins on each side.
		{`{"minDaysSinceLastPurchase":30,"maxDaysSinceLastPurchase":400,"lastPurchaseFrom":"2024-01-01","lastPurchaseTo":"2024-12-31"}`,
			segment.Bounds{From: local(2024, 1, 1), Before: local(2024, 5, 17)}},
	}
	for _, tt := range tests {
		f, err := segment.Decode([]byte(tt.body))
		noErr(t, err)
		equal(t, tt.want, f.Bounds(now, loc), tt.body)
	}
	if b := (segment.Filter{}).Bounds(now, nil); b.Bounded() {
		t.Fatalf("empty filter is bounded: %+v", b)
	}
}
