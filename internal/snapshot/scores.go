package snapshot

import "github.com/reactivation/reactivation/internal/scores"

// rfmBuckets lists every RFM group in grid order with its count, or none
// when no customer had a group (an index without scores).
func rfmBuckets(counts map[string]int64) []Bucket {
	out := []Bucket{}
	if len(counts) == 0 {
		return out
	}
	for _, g := range scores.Groups {
		out = append(out, Bucket{Key: g, Count: counts[g]})
	}
	return out
}
