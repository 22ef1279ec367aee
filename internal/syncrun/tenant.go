package syncrun

import (
	"context"
	"fmt"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/source"
)

// ownIDs keeps the ids a tenant may refresh: all of them for an admin; for
// a company, every id the source does not know under another company (an
// id the source does not know at all may be the company's deleted customer).
// ignored counts the ids dropped.
func (s *Service) ownIDs(ctx context.Context, ids []string, t jobs.Tenant) (kept []string, ignored int, err error) {
	if t.Admin {
		return ids, 0, nil
	}
	foreign, err := source.OfOtherCompanies(ctx, s.source, ids, t.CompanyID)
	if err != nil {
		return nil, 0, fmt.Errorf("refresh: check the customers' company: %w", err)
	}
	kept = make([]string, 0, len(ids))
	for _, id := range ids {
		if foreign[id] {
			ignored++
			continue
		}
		kept = append(kept, id)
	}
	return kept, ignored, nil
}
