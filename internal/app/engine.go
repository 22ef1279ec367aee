package app

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
)

// openEngine returns the Elasticsearch engine when ELASTICSEARCH_URL is set,
// else the PostgreSQL engine over the service database.
func openEngine(ctx context.Context, cfg config.Config, db *pgxpool.Pool) (search.Engine, error) {
	if cfg.ElasticsearchURL == "" {
		return nil, nil // TODO(pgsearch): wire the PostgreSQL engine
	}
	client, err := elastic.NewClient(cfg.ElasticsearchURL, cfg.SearchFlavor)
	if err != nil {
		return nil, err
	}
	return elastic.New(client, cfg.IndexAlias), nil
}
