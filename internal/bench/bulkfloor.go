package bench

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search/elastic"
)

// The floors of ingestion the sync scenario measures beside the full sync:
// raw _bulk of the sync's own documents into today's mapping and into the
// mapping before issue 15, and the seed's nightly pipeline (its
// materialized view, then raw _bulk of the view's rows into the seed's
// simple mapping). A run of several rounds times the floors of today's
// mapping and the seed's pipeline again in each, from the same dumps.

// mappingV1 is the generation index body (load settings included) before
// issue 15 made the mapping lean: money twice, doc values on every
// keyword, name as text plus a keyword, e-mail, phone, genderRaw and
// searchTokens indexed with doc values. It is frozen here so the
// comparison stays reproducible whatever the mapping becomes.
//
//go:embed mapping_v1.json
var mappingV1 []byte

// seedMapping is the obvious explicit mapping of the seed's view rows
// (column names as the view writes them), with the same load settings as
// ours so the mappings alone differ.
const seedMapping = `{
  "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1",
               "translog": {"durability": "async", "flush_threshold_size": "1gb"}},
  "mappings": {"properties": {
    "customer_id": {"type": "keyword"}, "company_id": {"type": "keyword"},
    "phone": {"type": "keyword"}, "name": {"type": "text"}, "email": {"type": "keyword"},
    "gender": {"type": "keyword"}, "city": {"type": "keyword"},
    "last_purchase_date": {"type": "date"}, "total_purchases": {"type": "long"},
    "total_spent": {"type": "scaled_float", "scaling_factor": 100},
    "average_ticket": {"type": "scaled_float", "scaling_factor": 100},
    "favorite_products": {"type": "keyword"}, "favorite_ingredients": {"type": "keyword"}
  }}
}`

// floors measures the floors of one run: the serving documents and the
// seed view's rows are dumped once (not timed), and each round times raw
// _bulk of them again. Close removes the dumps.
type floors struct {
	env    Env
	client *elasticsearch.Client
	d      *app.App
	alias  string
	dir    string
	// seedDumped is set once the seed view's rows are in the seed file.
	seedDumped bool
}

// newFloors dumps the documents serving behind alias, as stored and as
// the sync wrote them before issue 15, for the raw _bulk floors.
func newFloors(ctx context.Context, env Env, client *elasticsearch.Client, d *app.App, alias string) (*floors, error) {
	dir, err := os.MkdirTemp("", "bench-bulk-")
	if err != nil {
		return nil, err
	}
	f := &floors{env: env, client: client, d: d, alias: alias, dir: dir}
	if err := dumpDocuments(ctx, client, alias, f.file("new"), f.file("old")); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (f *floors) file(name string) string { return f.dir + "/" + name + ".ndjson" }

// Close removes the dumps.
func (f *floors) Close() { _ = os.RemoveAll(f.dir) }

// RawBulk times raw _bulk of the documents into the lean mapping.
func (f *floors) RawBulk(ctx context.Context) (time.Duration, error) {
	fmt.Fprintln(f.env.Out, "raw _bulk ...")
	return timeRawBulk(ctx, f.client, f.alias+"_rawbulk", elastic.LoadIndexBody(), f.file("new"), floorShape)
}

// RawBulkOld times raw _bulk of the documents as written before issue 15
// into mappingV1.
func (f *floors) RawBulkOld(ctx context.Context) (time.Duration, error) {
	fmt.Fprintln(f.env.Out, "raw _bulk, mapping before issue 15 ...")
	return timeRawBulk(ctx, f.client, f.alias+"_rawbulk_v1", mappingV1, f.file("old"), floorShape)
}

// Seed times the seed's nightly pipeline: its materialized view (the
// first time, its rows are dumped while it exists, not timed), then raw
// _bulk of its rows into seedMapping.
func (f *floors) Seed(ctx context.Context) (view, bulk time.Duration, err error) {
	var dump func() error
	if !f.seedDumped {
		dump = func() error { return dumpSeedRows(ctx, f.d.Source, f.file("seed")) }
	}
	if view, err = timeSeedView(ctx, f.env, f.d, dump); err != nil {
		return 0, 0, err
	}
	f.seedDumped = true
	fmt.Fprintln(f.env.Out, "raw _bulk of the seed's rows ...")
	bulk, err = timeRawBulk(ctx, f.client, f.alias+"_rawbulk_seed", []byte(seedMapping), f.file("seed"), floorShape)
	return view, bulk, err
}

// v1Doc is a document as the sync wrote it before issue 15: the folded
// copies that mappingV1 does not know are left out (these empty fields of
// the same names shadow them).
type v1Doc struct {
	elastic.Doc
	NameKey                string   `json:"nameKey,omitempty"`
	CityKey                string   `json:"cityKey,omitempty"`
	ProductsKey            []string `json:"productsKey,omitempty"`
	IngredientsKey         []string `json:"ingredientsKey,omitempty"`
	FavoriteProductsKey    []string `json:"favoriteProductsKey,omitempty"`
	FavoriteIngredientsKey []string `json:"favoriteIngredientsKey,omitempty"`
}

// dumpDocuments writes every document behind alias twice as bulk index
// actions with the same ids and routing: as stored (newPath), and as the
// sync wrote it before issue 15, with the decimal amounts beside the cents
// (oldPath, skipped when empty).
func dumpDocuments(ctx context.Context, client *elasticsearch.Client, alias, newPath, oldPath string) error {
	nf, err := os.Create(newPath)
	if err != nil {
		return err
	}
	defer nf.Close()
	ow := bufio.NewWriterSize(io.Discard, 1<<20)
	if oldPath != "" {
		of, err := os.Create(oldPath)
		if err != nil {
			return err
		}
		defer of.Close()
		ow.Reset(of)
	}
	nw := bufio.NewWriterSize(nf, 1<<20)
	err = elastic.ScanIndex(ctx, client, elastic.Scroll{Index: alias, Size: 5000}, func(hits []elastic.Hit) error {
		for _, h := range hits {
			meta, _ := json.Marshal(map[string]any{"index": map[string]any{"_id": h.ID, "routing": h.Routing}})
			var doc v1Doc
			if err := json.Unmarshal(h.Source, &doc.Doc); err != nil {
				return fmt.Errorf("decode %s: %w", h.ID, err)
			}
			doc.OmitTotalSpent = json.RawMessage(profile.Cents(doc.TotalSpentCents).String())
			doc.OmitAverageTicket = json.RawMessage(profile.Cents(doc.AverageTicketCents).String())
			old, err := json.Marshal(doc)
			if err != nil {
				return err
			}
			for _, line := range [][]byte{meta, h.Source} {
				nw.Write(line)
				nw.WriteByte('\n')
			}
			for _, line := range [][]byte{meta, old} {
				ow.Write(line)
				ow.WriteByte('\n')
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	if err := nw.Flush(); err != nil {
		return err
	}
	return ow.Flush()
}

// dumpSeedRows writes every row of the seed's view as a bulk index action
// with the customer id as _id, the row's JSON as the document.
func dumpSeedRows(ctx context.Context, src *pgxpool.Pool, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rows, err := src.Query(ctx, "SELECT customer_id, row_to_json(v)::text FROM customer_stats v")
	if err != nil {
		return fmt.Errorf("read seed view: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, doc string
		if err := rows.Scan(&id, &doc); err != nil {
			return err
		}
		meta, _ := json.Marshal(map[string]any{"index": map[string]any{"_id": id}})
		w.Write(meta)
		w.WriteByte('\n')
		w.WriteString(doc)
		w.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read seed view: %w", err)
	}
	return w.Flush()
}

// bulkShape is how raw _bulk requests are cut and sent.
type bulkShape struct {
	// Bytes ends a request once it holds this many bytes (0: no limit).
	Bytes int
	// Docs ends a request once it holds this many documents (0: no limit).
	Docs int
	// InFlight is how many requests are sent at once.
	InFlight int
}

// floorShape is the raw _bulk of the floors: 8 MB requests, two in flight.
var floorShape = bulkShape{Bytes: 8 << 20, InFlight: 2}

// timeRawBulk creates index target with body, then times sending the bulk
// file at path to it in requests of the given shape, and the final
// refresh, and drops the index.
func timeRawBulk(ctx context.Context, client *elasticsearch.Client, target string, body []byte, path string, shape bulkShape) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	res, err := client.Indices.Delete([]string{target}, client.Indices.Delete.WithIgnoreUnavailable(true))
	if err == nil {
		res.Body.Close()
	}
	res, err = client.Indices.Create(target, client.Indices.Create.WithBody(bytes.NewReader(body)))
	if err != nil {
		return 0, err
	}
	if res.IsError() {
		msg, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return 0, fmt.Errorf("create %s: %s: %s", target, res.Status(), msg)
	}
	res.Body.Close()
	defer func() {
		if res, err := client.Indices.Delete([]string{target}); err == nil {
			res.Body.Close()
		}
	}()
	chunks := make(chan []byte, 2)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(chunks)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		var buf bytes.Buffer
		lines := 0
		for sc.Scan() {
			buf.Write(sc.Bytes())
			buf.WriteByte('\n')
			lines++
			full := shape.Bytes > 0 && buf.Len() >= shape.Bytes || shape.Docs > 0 && lines == 2*shape.Docs
			if full && lines%2 == 0 {
				lines = 0
				select {
				case chunks <- bytes.Clone(buf.Bytes()):
				case <-gctx.Done():
					return gctx.Err()
				}
				buf.Reset()
			}
		}
		if buf.Len() > 0 {
			select {
			case chunks <- bytes.Clone(buf.Bytes()):
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return sc.Err()
	})
	for range max(shape.InFlight, 1) {
		g.Go(func() error {
			for c := range chunks {
				res, err := client.Bulk(bytes.NewReader(c), client.Bulk.WithContext(gctx), client.Bulk.WithIndex(target))
				if err != nil {
					return err
				}
				var out struct {
					Errors bool `json:"errors"`
				}
				err = json.NewDecoder(res.Body).Decode(&out)
				res.Body.Close()
				if err != nil || res.IsError() || out.Errors {
					return fmt.Errorf("raw bulk into %s: %v %s errors=%v", target, err, res.Status(), out.Errors)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	res, err = client.Indices.Refresh(client.Indices.Refresh.WithIndex(target))
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return time.Since(start), nil
}
