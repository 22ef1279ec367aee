package elastic

import (
	"cmp"
	"context"
	"fmt"
	"sync/atomic"

	"github.com/elastic/go-elasticsearch/v8"
)

// DefaultAlias is the alias that points at the serving generation index.
const DefaultAlias = "customers"

// Engine is the Elasticsearch (or OpenSearch) search engine. Searches read
// through the alias; generation indexes are named after it. Engines are
// safe for concurrent use.
type Engine struct {
	client *elasticsearch.Client
	alias  string
	// replicas is the serving index's number_of_replicas; AutoReplicas
	// asks the cluster at each promotion.
	replicas int
	// flavor is FlavorElasticsearch or FlavorOpenSearch (WithFlavor).
	flavor string
	// scanSlices is how many slices an unordered scan of ids reads in
	// parallel (WithScanSlices).
	scanSlices int
	// idChunk is the most ids one request of an id collection returns
	// (WithIDChunk); 0 scans instead.
	idChunk int
	// scriptRefused is set once the engine refused CollectIDs' script:
	// later id scans go straight to the sliced scan.
	scriptRefused atomic.Bool
}

// Option configures an Engine.
type Option func(*Engine)

// WithReplicas sets the number of replicas a promoted generation serves
// with; 0 (the default) suits a single-node cluster, and AutoReplicas
// decides at each promotion from the cluster's data nodes (see
// ServingReplicas).
func WithReplicas(n int) Option {
	return func(e *Engine) { e.replicas = n }
}

// WithFlavor says which engine the client talks to: FlavorOpenSearch
// enables what only OpenSearch's API offers here (sliced scans, see
// WithScanSlices). FlavorElasticsearch by default.
func WithFlavor(flavor string) Option {
	return func(e *Engine) { e.flavor = flavor }
}

// WithScanSlices sets how many slices an unordered, company-routed scan of
// ids (a campaign's freeze) reads in parallel from one point in time
// (ScanSlices); 1 or less, or an Elasticsearch flavor, reads one scroll.
// The default is DefaultScanSlices.
func WithScanSlices(n int) Option {
	return func(e *Engine) { e.scanSlices = n }
}

// WithIDChunk sets how many ids one request of an unordered,
// company-routed scan of customer ids returns when OpenSearch gathers them
// in an aggregation (CollectIDs); 0 reads them with the sliced scan
// instead. The default is DefaultIDChunk.
func WithIDChunk(n int) Option {
	return func(e *Engine) { e.idChunk = n }
}

// DefaultScanSlices is the default of WithScanSlices: on a two-core
// machine two slices keep both busy while PostgreSQL writes what they read.
const DefaultScanSlices = 2

// New returns an engine on client serving alias (DefaultAlias when "").
func New(client *elasticsearch.Client, alias string, opts ...Option) *Engine {
	e := &Engine{client: client, alias: cmp.Or(alias, DefaultAlias), flavor: FlavorElasticsearch, scanSlices: DefaultScanSlices,
		idChunk: DefaultIDChunk}
	for _, opt := range opts {
		opt(e)
	}
	return e
}

// Name is "elasticsearch", whatever the flavor.
func (e *Engine) Name() string { return "elasticsearch" }

// Ping reports whether the cluster answers.
func (e *Engine) Ping(ctx context.Context) error {
	res, err := e.client.Ping(e.client.Ping.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("ping search engine: %w", err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return fmt.Errorf("ping search engine: %s", res.Status())
	}
	return nil
}
