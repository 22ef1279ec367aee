// Package parallel splits CPU-bound work on the items of a slice across
// the machine's cores.
package parallel

import (
	"runtime"

	"golang.org/x/sync/errgroup"
)

// MinItems is the fewest items worth more than one goroutine.
const MinItems = 256

// parts is how many goroutines Ranges uses at most: JSON decoding and
// encoding of a page is the CPU this is for, and the page's consumer (a CSV
// encoder, a COPY) runs beside it.
var parts = min(runtime.GOMAXPROCS(0), 4)

// Ranges calls fn on consecutive ranges [lo, hi) covering [0, n), one
// range per goroutine, up to four of them (one when n is below MinItems),
// and returns the first error. fn must only touch the items of its range.
func Ranges(n int, fn func(lo, hi int) error) error {
	k := 1
	if n >= MinItems {
		k = parts
	}
	if k == 1 {
		return fn(0, n)
	}
	var g errgroup.Group
	for part := range k {
		g.Go(func() error { return fn(part*n/k, (part+1)*n/k) })
	}
	return g.Wait()
}
