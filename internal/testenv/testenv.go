// Package testenv gives tests real, isolated services: a fresh PostgreSQL
// schema, a Redis database of their own and a unique index prefix. A test
// that cannot reach a service fails and says how to start it.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/reactivation/reactivation/internal/search/elastic"
)

const howToStart = "start the local services with `deploy/local/services.sh up` (or `make services`) and export what `deploy/local/services.sh env` prints"

// DatabaseURL is DATABASE_URL or the local default.
func DatabaseURL() string {
	return env("DATABASE_URL", "postgres://reactivation:reactivation@127.0.0.1:5432/reactivation?sslmode=disable")
}

// RedisURL is REDIS_URL or the local default.
func RedisURL() string { return env("REDIS_URL", "redis://127.0.0.1:6379/0") }

// ElasticsearchURL is ELASTICSEARCH_URL or the local default.
func ElasticsearchURL() string { return env("ELASTICSEARCH_URL", "http://127.0.0.1:9200") }

// SearchFlavor is SEARCH_FLAVOR or opensearch, what services.sh starts.
func SearchFlavor() string { return env("SEARCH_FLAVOR", elastic.FlavorOpenSearch) }

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Name returns a short unique lowercase name with prefix, for schemas,
// indexes and key prefixes.
func Name(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// PostgresURL creates a fresh schema, dropped when t ends, and returns a
// database URL whose connections use it as search_path. Subprocesses given
// this URL see the same isolated tables.
func PostgresURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgxpool.New(ctx, DatabaseURL())
	if err == nil {
		err = admin.Ping(ctx)
	}
	if err != nil {
		t.Fatalf("PostgreSQL at %s is not reachable (%v): %s", redact(DatabaseURL()), err, howToStart)
	}
	schema := Name("t_")
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(DatabaseURL())
	if err != nil {
		t.Fatalf("DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres returns a pool on a fresh schema of its own (see PostgresURL).
func Postgres(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), PostgresURL(t))
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// RedisOptions reserves a Redis database for t (flushed before use) and
// returns options pointing at it. Databases 1..47 are leased with a lock key
// in database 0, so parallel test binaries never share one.
func RedisOptions(t testing.TB) *redis.Options {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lockOpt := *opt
	lockOpt.DB = 0
	locks := redis.NewClient(&lockOpt)
	if err := locks.Ping(ctx).Err(); err != nil {
		locks.Close()
		t.Fatalf("Redis at %s is not reachable (%v): %s", RedisURL(), err, howToStart)
	}
	owner := Name("")
	for db := 1; db < 48; db++ { // 48..63 belong to benchmarks
		key := fmt.Sprintf("testenv:lease:%d", db)
		ok, err := locks.SetNX(ctx, key, owner, 30*time.Minute).Result()
		if err != nil {
			t.Fatalf("lease redis db: %v", err)
		}
		if !ok {
			continue
		}
		t.Cleanup(func() {
			locks.Del(context.Background(), key)
			locks.Close()
		})
		o := *opt
		o.DB = db
		c := redis.NewClient(&o)
		defer c.Close()
		if err := c.FlushDB(ctx).Err(); err != nil {
			t.Fatalf("flush redis db %d: %v", db, err)
		}
		return &o
	}
	locks.Close()
	t.Fatalf("no free Redis database among 1..47 (stale leases expire after 30 minutes)")
	return nil
}

// Redis returns a client on a database of t's own (see RedisOptions).
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(RedisOptions(t))
	t.Cleanup(func() { c.Close() })
	return c
}

// RedisURLFor renders o as a redis:// URL, for subprocesses.
func RedisURLFor(o *redis.Options) string {
	return fmt.Sprintf("redis://%s/%d", o.Addr, o.DB)
}

// Elasticsearch returns a client for the local engine and a unique index
// alias; every index starting with the alias is deleted when t ends.
func Elasticsearch(t testing.TB) (*elasticsearch.Client, string) {
	t.Helper()
	c, err := elastic.NewClient(ElasticsearchURL(), SearchFlavor())
	if err != nil {
		t.Fatalf("search client: %v", err)
	}
	res, err := c.Info()
	if err == nil {
		res.Body.Close()
		if res.IsError() {
			err = fmt.Errorf("status %s", res.Status())
		}
	}
	if err != nil {
		t.Fatalf("search engine at %s is not reachable (%v): %s", ElasticsearchURL(), err, howToStart)
	}
	alias := Name("test_")
	t.Cleanup(func() {
		res, err := c.Indices.Delete([]string{alias + "*"})
		if err == nil {
			res.Body.Close()
		}
	})
	return c, alias
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "DATABASE_URL"
	}
	return strings.Replace(u.Redacted(), "xxxxx", "***", 1)
}
