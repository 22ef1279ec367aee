package parallel

import (
	"errors"
	"sync"
	"testing"
)

// TestRangesCoverEachItemOnce: for sizes below, at and above MinItems the
// ranges cover [0, n) exactly once, one range below MinItems; the first
// error comes back.
func TestRangesCoverEachItemOnce(t *testing.T) {
	for _, n := range []int{0, 1, MinItems - 1, MinItems, 1001} {
		seen := make([]int, n)
		var mu sync.Mutex
		calls := 0
		err := Ranges(n, func(lo, hi int) error {
			mu.Lock()
			calls++
			mu.Unlock()
			for i := lo; i < hi; i++ {
				seen[i]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d: item %d seen %d times", n, i, c)
			}
		}
		if n < MinItems && calls != 1 {
			t.Fatalf("n=%d: %d ranges, want one", n, calls)
		}
		if n >= MinItems && calls != parts {
			t.Fatalf("n=%d: %d ranges, want %d", n, calls, parts)
		}
	}
	boom := errors.New("boom")
	if err := Ranges(1000, func(lo, _ int) error {
		if lo == 0 {
			return boom
		}
		return nil
	}); !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
}
