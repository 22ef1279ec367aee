package pgsearch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
	"github.com/reactivation/reactivation/internal/testenv"
)

// The indexing half of the engines is built elsewhere; these loaders write
// profiles the way it must (Row and Columns, Document and Routing) so the
// search half is tested on its own.

// loadPostgres creates a generation table with profiles in a fresh schema
// and the serving view over it.
func loadPostgres(t testing.TB, profiles []profile.Profile) *pgsearch.Engine {
	t.Helper()
	e, _ := loadPostgresPool(t, profiles)
	return e
}

// loadPostgresPool is loadPostgres, also returning the schema's pool.
func loadPostgresPool(t testing.TB, profiles []profile.Profile) (*pgsearch.Engine, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Postgres(t)
	const table = "customer_profiles_g1"
	if _, err := pool.Exec(ctx, pgsearch.CreateTableSQL(table)); err != nil {
		t.Fatalf("create table: %v", err)
	}
	_, err := pool.CopyFrom(ctx, pgx.Identifier{table}, pgsearch.Columns,
		pgx.CopyFromSlice(len(profiles), func(i int) ([]any, error) { return pgsearch.Row(profiles[i]), nil }))
	if err != nil {
		t.Fatalf("copy profiles: %v", err)
	}
	if _, err := pool.Exec(ctx, pgsearch.ServeSQL(pgsearch.DefaultView, table)); err != nil {
		t.Fatalf("create view: %v", err)
	}
	return pgsearch.New(pool, ""), pool
}

// loadElastic creates a generation index with profiles, routed by
// company, and points a fresh alias at it.
func loadElastic(t testing.TB, profiles []profile.Profile) *elastic.Engine {
	t.Helper()
	client, alias := testenv.Elasticsearch(t)
	index := alias + "_g1"
	res, err := client.Indices.Create(index, client.Indices.Create.WithBody(bytes.NewReader(elastic.IndexBody())))
	mustOK(t, "create index", res, err)
	res.Body.Close()
	var body bytes.Buffer
	for _, p := range profiles {
		meta := map[string]any{"index": map[string]any{"_index": index, "_id": p.CustomerID, "routing": elastic.Routing(p)}}
		for _, v := range []any{meta, elastic.Document(p)} {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			body.Write(append(b, '\n'))
		}
	}
	res, err = client.Bulk(&body, client.Bulk.WithRefresh("wait_for"))
	mustOK(t, "bulk", res, err)
	var bulk struct{ Errors bool }
	err = json.NewDecoder(res.Body).Decode(&bulk)
	res.Body.Close()
	if err != nil || bulk.Errors {
		t.Fatalf("bulk: errors in response (%v)", err)
	}
	res, err = client.Indices.PutAlias([]string{index}, alias)
	mustOK(t, "put alias", res, err)
	res.Body.Close()
	return elastic.New(client, alias)
}

// mustOK fails t when a request failed; the caller closes the body.
func mustOK(t testing.TB, what string, res *esapi.Response, err error) {
	t.Helper()
	if err == nil && res.IsError() {
		err = fmt.Errorf("%s", res.String())
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// engines are the two engines under test, loaded with the same profiles.
type engines map[string]search.Searcher

func loadBoth(t testing.TB, profiles []profile.Profile) engines {
	return engines{"postgres": loadPostgres(t, profiles), "elasticsearch": loadElastic(t, profiles)}
}

func reflectEqual(a, b any) bool { return reflect.DeepEqual(a, b) }
