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
	g.Go(func() error {
		defer close(pages)
		return s.Scan(gctx, q, func(ps []profile.Profile) error {
			select {
			case pages <- ps:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
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
