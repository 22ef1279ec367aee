package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/reactivation/reactivation/internal/search/elastic"
)

func init() {
	Register(Scenario{
		Name:        "bulk",
		Description: "raw _bulk of a full sync's documents into the lean mapping under each bulk setting (documents per request, requests in flight, primary shards, refresh interval during load): the measurements behind the sync's defaults (docs/index-mapping.md)",
		Run:         runBulkSettings,
	})
}

// bulkSetting is one point of the sweep: how requests are cut and sent,
// and the generation's load settings.
type bulkSetting struct {
	name    string
	shape   bulkShape
	shards  int
	refresh string
}

// bulkSweep varies one setting at a time around the sync's own shape
// (2,000 documents a request, four shard tasks each with one request in
// flight, one primary shard, no refresh). The sync's shape runs first and
// last: the two tell how much the machine's noise moves a figure.
var bulkSweep = []bulkSetting{
	{"docs_2000", bulkShape{Docs: 2000, InFlight: 4}, 1, "-1"},
	{"docs_1000", bulkShape{Docs: 1000, InFlight: 4}, 1, "-1"},
	{"docs_5000", bulkShape{Docs: 5000, InFlight: 4}, 1, "-1"},
	{"in_flight_2", bulkShape{Docs: 2000, InFlight: 2}, 1, "-1"},
	{"in_flight_8", bulkShape{Docs: 2000, InFlight: 8}, 1, "-1"},
	{"shards_2", bulkShape{Docs: 2000, InFlight: 4}, 2, "-1"},
	{"refresh_1s", bulkShape{Docs: 2000, InFlight: 4}, 1, "1s"},
	{"docs_2000_again", bulkShape{Docs: 2000, InFlight: 4}, 1, "-1"},
}

func runBulkSettings(ctx context.Context, env Env, r *Report) error {
	if env.Config.ElasticsearchURL == "" {
		return errors.New("the bulk scenario measures the search engine: set ELASTICSEARCH_URL")
	}
	cfg, d, err := openSyncData(ctx, env)
	if err != nil {
		return err
	}
	defer d.Close()
	stop, err := runWorker(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Out, "full sync ...")
	_, _, err = timeFullSync(ctx, d, r)
	stop()
	if err != nil {
		return err
	}
	client, err := elastic.NewClient(cfg.ElasticsearchURL, cfg.SearchFlavor)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-bulk-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := dir + "/docs.ndjson"
	if err := dumpDocuments(ctx, client, cfg.IndexAlias, path, ""); err != nil {
		return err
	}
	for _, s := range bulkSweep {
		body, err := loadBody(s.shards, s.refresh)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Out, "raw _bulk, %s ...\n", s.name)
		took, err := timeRawBulk(ctx, client, cfg.IndexAlias+"_bulk_"+s.name, body, path, s.shape)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		r.Add("bulk_"+s.name+"_seconds", took.Seconds(), "s")
		r.Add("bulk_"+s.name+"_documents_per_second", float64(env.Customers)/took.Seconds(), "docs/s")
	}
	return nil
}

// loadBody is elastic.LoadIndexBody with shards primary shards and the
// refresh interval during load.
func loadBody(shards int, refresh string) ([]byte, error) {
	var body map[string]any
	if err := json.Unmarshal(elastic.LoadIndexBody(), &body); err != nil {
		return nil, err
	}
	settings := body["settings"].(map[string]any)
	settings["number_of_shards"] = shards
	settings["refresh_interval"] = refresh
	return json.Marshal(body)
}
