package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ScheduleTicks records the scheduler's ticks in schedule_ticks, so that of
// several scheduler replicas exactly one acts on each tick. Safe for
// concurrent use.
type ScheduleTicks struct{ db *pgxpool.Pool }

// NewScheduleTicks returns the tick record of the service database db.
func NewScheduleTicks(db *pgxpool.Pool) *ScheduleTicks { return &ScheduleTicks{db: db} }

// Claim records that tick (name, slot) is being acted on; false means
// another replica already claimed it.
func (t *ScheduleTicks) Claim(ctx context.Context, name string, slot time.Time) (bool, error) {
	tag, err := t.db.Exec(ctx, `INSERT INTO schedule_ticks (name, slot) VALUES ($1, $2) ON CONFLICT DO NOTHING`, name, slot.UTC())
	if err != nil {
		return false, fmt.Errorf("claim tick %s: %w", name, err)
	}
	return tag.RowsAffected() == 1, nil
}
