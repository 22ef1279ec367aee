// Package pgsearch is the embedded search engine: the same segment filters
// answered by PostgreSQL from one table per generation, behind a view that
// points at the serving one. It agrees with search/elastic on every filter,
// sort and page.
package pgsearch

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultView is the serving view's name.
const DefaultView = "customer_profiles"

// Engine is the PostgreSQL search engine. Engines are safe for concurrent
// use.
type Engine struct {
	pool *pgxpool.Pool
	view string
	// sealed holds the generation tables known to be sealed (see seal):
	// a table never goes back to loading.
	sealed sync.Map
}

// New returns an engine on pool serving view (DefaultView when ""), which
// may be schema-qualified ("search.customer_profiles").
func New(pool *pgxpool.Pool, view string) *Engine {
	return &Engine{pool: pool, view: cmp.Or(view, DefaultView)}
}

// Name is "postgres".
func (e *Engine) Name() string { return "postgres" }

// Ping reports whether the database answers.
func (e *Engine) Ping(ctx context.Context) error {
	if err := e.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping search database: %w", err)
	}
	return nil
}

// quote returns a possibly schema-qualified name as a quoted identifier.
func quote(name string) string {
	return pgx.Identifier(strings.Split(name, ".")).Sanitize()
}

// QuotedView is the serving view's name as a quoted identifier, for a
// statement written by hand (a benchmark's baseline).
func (e *Engine) QuotedView() string { return quote(e.view) }
