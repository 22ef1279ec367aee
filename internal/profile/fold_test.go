package profile

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestFoldASCIIIsFoldUnicode checks the ASCII fast path against the
// general one: every string of up to two ASCII characters, then random
// strings of upper and lower case, digits, punctuation and every ASCII
// white space, with runs at either end and inside.
func TestFoldASCIIIsFoldUnicode(t *testing.T) {
	check := func(s string) {
		t.Helper()
		got, ok := foldASCII(s)
		if !ok {
			t.Fatalf("foldASCII(%q) refused an ASCII string", s)
		}
		if want := foldUnicode(s); got != want {
			t.Fatalf("foldASCII(%q) = %q, foldUnicode = %q", s, got, want)
		}
	}
	check("")
	for a := 0; a < 0x80; a++ {
		check(string(rune(a)))
		for b := 0; b < 0x80; b++ {
			check(string([]byte{byte(a), byte(b)}))
		}
	}
	alphabet := []byte("aZm09 .-_@+\t\n\v\f\r  Q")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		check(string(b))
	}
	for _, s := range []string{"  SAN  José ", "Piña colada", "ÀB", "a\u00a0b", "a\u0085b"} {
		if _, ok := foldASCII(s); ok {
			t.Fatalf("foldASCII(%q) took a non-ASCII string", s)
		}
	}
	if got := Fold("  SAN  José "); got != "san jose" {
		t.Fatalf("Fold = %q", got)
	}
}

// TestFoldASCIIKeepsAFoldedString checks that a string already folded is
// returned without a copy.
func TestFoldASCIIKeepsAFoldedString(t *testing.T) {
	s := "gallo pinto 2"
	if n := testing.AllocsPerRun(100, func() { _ = Fold(s) }); n != 0 {
		t.Fatalf("Fold of a folded string allocated %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = Fold("Gallo Pinto") }); n != 1 {
		t.Fatalf("Fold of an ASCII string allocated %v times, want 1", n)
	}
}

// TestFoldTermIsFold checks the kept folds against Fold, a value asked
// twice included.
func TestFoldTermIsFold(t *testing.T) {
	for _, v := range []string{"Café Tostado", "café tostado", "  Piña ", "PIÑA", "Piña", "Arroz"} {
		for range 2 {
			if got, want := FoldTerm(v), Fold(v); got != want {
				t.Fatalf("FoldTerm(%q) = %q, Fold = %q", v, got, want)
			}
		}
	}
}

// TestFoldCacheUnderConcurrency folds 3,000 distinct catalogue values
// (accented, cased, spaced) from eight goroutines at once, each in its
// own order and twice, and requires Fold's answer every time; then a kept
// value folds without allocating, and a cache that holds its maximum
// still folds values it does not keep.
func TestFoldCacheUnderConcurrency(t *testing.T) {
	var c foldCache
	values := make([]string, 3000)
	for i := range values {
		values[i] = fmt.Sprintf("  Piña %d CAFÉ  Ñandú %d ", i, i%7)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			order := rand.New(rand.NewPCG(uint64(g), 1)).Perm(len(values))
			for range 2 {
				for _, i := range order {
					if got, want := c.get(values[i]), Fold(values[i]); got != want {
						errs <- fmt.Sprintf("get(%q) = %q, Fold = %q", values[i], got, want)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	for range len(values) { // misses enough for the last additions to be promoted
		_ = c.get(values[0] + "x")
	}
	if n := testing.AllocsPerRun(100, func() { _ = c.get(values[42]) }); n != 0 {
		t.Fatalf("a kept fold allocated %v times, want 0", n)
	}

	var full foldCache
	for i := range foldTermsMax + 10 {
		v := fmt.Sprintf("Café %d", i)
		if got := full.get(v); got != Fold(v) {
			t.Fatalf("get(%q) = %q", v, got)
		}
	}
	for range foldTermsMax {
		_ = full.get("café 1x")
	}
	if m := full.read.Load(); m == nil || len(*m) < foldTermsMax {
		t.Fatalf("the cache keeps %d folds and is not full", full.kept())
	}
	if got := full.get("Ñandú Nuevo"); got != "nandu nuevo" {
		t.Fatalf("a full cache folded to %q", got)
	}
}
