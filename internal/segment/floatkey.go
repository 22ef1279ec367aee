package segment

import "math"

// FloatKey maps a non-negative float to an int64 with the same order
// (its IEEE 754 bits: for non-negative floats, a larger float has larger
// bits), exactly and reversibly. Engines that filter and sort longs
// better than doubles (Elasticsearch, OpenSearch) index scores' P(alive)
// and expected purchases as keys, so a bound compares exactly as the
// float would. v must not be negative or NaN; -0 maps as 0.
func FloatKey(v float64) int64 {
	return int64(math.Float64bits(v + 0))
}

// FloatKeyOf is FloatKey of *v, nil for nil.
func FloatKeyOf(v *float64) *int64 {
	if v == nil {
		return nil
	}
	k := FloatKey(*v)
	return &k
}
