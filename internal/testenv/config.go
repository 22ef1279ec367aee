package testenv

import (
	"testing"

	"github.com/reactivation/reactivation/internal/config"
)

// Config returns a validated configuration whose PostgreSQL schema, Redis
// database and index alias belong to t alone. The search engine is the
// local Elasticsearch/OpenSearch; set ElasticsearchURL to "" for the
// PostgreSQL engine.
func Config(t testing.TB) config.Config {
	t.Helper()
	c := config.Defaults()
	c.DatabaseURL = PostgresURL(t)
	c.SourceDatabaseURL = c.DatabaseURL
	c.RedisURL = RedisURLFor(RedisOptions(t))
	_, alias := Elasticsearch(t)
	c.ElasticsearchURL = ElasticsearchURL()
	c.SearchFlavor = SearchFlavor()
	c.IndexAlias = alias
	c.APIAddr = "127.0.0.1:0"
	c.LogLevel = "warn"
	if err := c.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	return c
}
