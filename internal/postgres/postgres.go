// Package postgres opens connection pools to the service's and the source's
// PostgreSQL and applies the service's embedded migrations.
package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/redact"
)

// Open returns a pool for databaseURL after a successful ping. The pool
// holds up to maxConns connections, or more when the URL's pool_max_conns
// asks for more; maxConns 0 keeps pgx's default.
func Open(ctx context.Context, databaseURL string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad database URL: %w", err)
	}
	if maxConns > 0 && !strings.Contains(databaseURL, "pool_max_conns") || maxConns > cfg.MaxConns {
		cfg.MaxConns = maxConns
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "reactivation"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres at %s unreachable: %w", Redact(databaseURL), err)
	}
	return pool, nil
}

// Redact hides the password of a database URL, for messages and logs.
func Redact(databaseURL string) string { return redact.URL(databaseURL) }
