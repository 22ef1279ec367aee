package app

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
)

// openEngine returns the Elasticsearch engine when ELASTICSEARCH_URL is set,
// else the PostgreSQL engine over the service database, serving the view
// named after INDEX_ALIAS ("customers" serves customer_profiles).
func openEngine(_ context.Context, cfg config.Config, db *pgxpool.Pool) (search.Engine, error) {
	if cfg.ElasticsearchURL == "" {
		view := pgsearch.DefaultView
		if cfg.IndexAlias != "customers" {
			view = cfg.IndexAlias + "_profiles"
		}
		return pgsearch.New(db, view), nil
	}
	client, err := elastic.NewClient(cfg.ElasticsearchURL, cfg.SearchFlavor)
	if err != nil {
		return nil, err
	}
	return elastic.New(client, cfg.IndexAlias, elastic.WithReplicas(cfg.IndexReplicas),
		elastic.WithFlavor(cfg.SearchFlavor), elastic.WithScanSlices(cfg.ScanSlices), elastic.WithIDChunk(cfg.IDChunk)), nil
}
