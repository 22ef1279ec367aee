package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migration is one embedded migration file.
type migration struct {
	version int
	name    string // file name without .sql, "0001_init"
	path    string
}

// embedded lists the embedded migrations in version order.
func embedded() ([]migration, error) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	out := make([]migration, 0, len(files))
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "migrations/"), ".sql")
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migrate: bad migration file name %s", f)
		}
		out = append(out, migration{version: v, name: name, path: f})
	}
	return out, nil
}

// Pending returns the versions of the embedded migrations that the
// database has not applied yet, in order; every one of them when the
// schema_migrations table does not exist. It changes nothing.
func Pending(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	all, err := embedded()
	if err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, "SELECT version FROM schema_migrations")
	var versions []int
	if err == nil {
		versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	}
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == undefinedTable) {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	applied := map[int]bool{}
	for _, v := range versions {
		applied[v] = true
	}
	var pending []int
	for _, m := range all {
		if !applied[m.version] {
			pending = append(pending, m.version)
		}
	}
	return pending, nil
}

// WaitMigrated polls every interval until the database has applied every
// embedded migration (applied by someone else: a migration Job), so a
// process of a new version never starts on an older schema. A database
// that does not answer yet is polled again. It fails when ctx ends first,
// naming the versions still missing.
func WaitMigrated(ctx context.Context, pool *pgxpool.Pool, interval time.Duration) error {
	var last error
	for {
		pending, err := Pending(ctx, pool)
		if err == nil && len(pending) == 0 {
			return nil
		}
		switch {
		case err == nil:
			last = fmt.Errorf("migrations %v not applied yet", pending)
		case ctx.Err() == nil || last == nil:
			last = err
			// else the deadline cut this poll short: the previous poll's
			// answer says more.
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrate: waited for the schema: %w", last)
		case <-time.After(interval):
		}
	}
}
