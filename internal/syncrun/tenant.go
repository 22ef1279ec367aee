package syncrun

import (
	"context"
	"fmt"

	"github.com/reactivation/reactivation/internal/jobs"
)

// ownIDs keeps the ids a tenant may refresh: all of them for an admin; for
// a company, every id the source does not know under another company (an
// id the source does not know at all may be the company's deleted customer).
// ignored counts the ids dropped.
func (s *Service) ownIDs(ctx context.Context, ids []string, t jobs.Tenant) (kept []string, ignored int, err error) {
	if t.Admin {
		return ids, 0, nil
	}
	rows, err := s.source.Query(ctx,
		"SELECT customer_id FROM customers WHERE customer_id = ANY($1) AND company_id IS DISTINCT FROM $2", ids, t.CompanyID)
	if err != nil {
		return nil, 0, fmt.Errorf("refresh: check the customers' company: %w", err)
	}
	foreign := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("refresh: check the customers' company: %w", err)
		}
		foreign[id] = true
	}
	if err := rows.Err(); err != nil {
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
