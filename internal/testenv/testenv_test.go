package testenv

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestServices writes and reads real data in each service the project
// needs: a row, a key, and a document indexed then found by a search.
func TestServices(t *testing.T) {
	ctx := context.Background()
	t.Run("postgres", func(t *testing.T) {
		pool := Postgres(t)
		if _, err := pool.Exec(ctx, "CREATE TABLE probe (id int PRIMARY KEY, city text)"); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, "INSERT INTO probe VALUES (1, 'San José')"); err != nil {
			t.Fatal(err)
		}
		var city string
		if err := pool.QueryRow(ctx, "SELECT city FROM probe WHERE id = 1").Scan(&city); err != nil || city != "San José" {
			t.Fatalf("read back %q, %v", city, err)
		}
	})
	t.Run("redis", func(t *testing.T) {
		c := Redis(t)
		if err := c.Set(ctx, "probe", "Cartago", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, "probe").Result(); err != nil || v != "Cartago" {
			t.Fatalf("read back %q, %v", v, err)
		}
	})
	t.Run("search", func(t *testing.T) {
		es, alias := Elasticsearch(t)
		index := alias + "_probe"
		res, err := es.Index(index, strings.NewReader(`{"city":"Heredia","name":"Ana"}`),
			es.Index.WithDocumentID("c1"), es.Index.WithRefresh("true"))
		if err != nil || res.IsError() {
			t.Fatalf("index: %v %v", err, res)
		}
		res.Body.Close()
		res, err = es.Search(es.Search.WithIndex(index),
			es.Search.WithBody(strings.NewReader(`{"query":{"match":{"name":"ana"}}}`)))
		if err != nil || res.IsError() {
			t.Fatalf("search: %v %v", err, res)
		}
		defer res.Body.Close()
		var out struct {
			Hits struct {
				Hits []struct {
					ID     string         `json:"_id"`
					Source map[string]any `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		if len(out.Hits.Hits) != 1 || out.Hits.Hits[0].ID != "c1" || out.Hits.Hits[0].Source["city"] != "Heredia" {
			t.Fatalf("search found %+v", out.Hits.Hits)
		}
	})
}
