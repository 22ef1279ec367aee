package segment_test

import (
	"fmt"
	"time"

	"github.com/reactivation/reactivation/internal/segment"
)

// A synchronous search body, as the seed's clients send it: the filter's
// fields at the top level, normalised on the way in.
func ExampleDecodeSearchRequest() {
	req, err := segment.DecodeSearchRequest([]byte(`{
		"gender": "mujer", "city": "San José", "minDaysSinceLastPurchase": 90,
		"sort": "totalSpent:desc", "size": 50}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(req.Filter.Canonical()), req.Sort, req.Size)

	// 90 days before 2024-06-15 in Costa Rica is 2024-03-17: the last
	// purchase must come before the local midnight that ends that day.
	loc, _ := time.LoadLocation("America/Costa_Rica")
	b := req.Filter.Bounds(time.Date(2024, 6, 15, 10, 0, 0, 0, loc), loc)
	fmt.Println(b.From, b.Before)
	// Output:
	// {"gender":["female"],"city":["san jose"],"minDaysSinceLastPurchase":90} totalSpent:desc 50
	// <nil> 2024-03-18 06:00:00 +0000 UTC
}

// Every problem is reported at once, each naming its JSON field.
func ExampleDecode_errors() {
	_, err := segment.Decode([]byte(`{"minTotalSpent": 20, "maxTotalSpent": 10, "colour": "red", "hasEmail": "yes"}`))
	for _, fe := range err.(*segment.ValidationError).Errors {
		fmt.Printf("%s: %s\n", fe.Field, fe.Message)
	}
	// Output:
	// colour: unknown field
	// hasEmail: must be true or false
	// minTotalSpent: must not be greater than maxTotalSpent
}
