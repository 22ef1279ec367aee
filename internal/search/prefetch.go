package search

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/reactivation/reactivation/internal/profile"
)

// Prefetch is s.Scan with the engine one page ahead: pages are read in one
// goroutine and handed to fn in another, so the next page is fetched while
// fn handles this one (at most three pages in memory). fn gets a context
// that ends when either side fails; the first error stops both.
func Prefetch(ctx context.Context, s Searcher, q Query, fn func(ctx context.Context, ps []profile.Profile) error) error {
	g, gctx := errgroup.WithContext(ctx)
	pages := make(chan []profile.Profile, 1)
	g.Go(func() error { return ScanInto(gctx, s, q, pages) })
	g.Go(func() error {
		for ps := range pages {
			if err := fn(gctx, ps); err != nil {
				return err
			}
		}
		return nil
	})
	return g.Wait()
}

// ScanInto is s.Scan sending each page on pages, which it closes when the
// scan ends, successfully or not; it stops when ctx ends. The receiver
// must tell a complete scan from a failed one by ScanInto's error.
func ScanInto(ctx context.Context, s Searcher, q Query, pages chan<- []profile.Profile) error {
	defer close(pages)
	return s.Scan(ctx, q, func(ps []profile.Profile) error {
		select {
		case pages <- ps:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}
