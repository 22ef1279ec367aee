// Package elastic is the production search engine: Elasticsearch 8 through
// the official v8 client, or OpenSearch 2.x with SEARCH_FLAVOR=opensearch.
package elastic

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
)

// Flavors the client can talk to.
const (
	FlavorElasticsearch = "elasticsearch"
	FlavorOpenSearch    = "opensearch"
)

// NewClient returns a v8 client for url. With FlavorOpenSearch the client
// accepts a server that does not identify itself as Elasticsearch; nothing
// else differs. The client's compatibility mode stays off (OpenSearch
// answers 406 to its media type).
func NewClient(url, flavor string) (*elasticsearch.Client, error) {
	var transport http.RoundTripper = &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		// No gzip: the engine compressing every answer (a freeze's id
		// lists, an export's pages) costs its CPU more than the bytes
		// cost a data-centre network.
		DisableCompression: true,
	}
	if flavor == FlavorOpenSearch {
		transport = productHeader{next: transport}
	}
	c, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses:         []string{url},
		Transport:         transport,
		RetryOnStatus:     []int{502, 503, 504},
		MaxRetries:        2,
		DisableMetaHeader: true,
	})
	if err != nil {
		return nil, fmt.Errorf("search client: %w", err)
	}
	return c, nil
}

// productHeader marks OpenSearch's answers the way the v8 client's product
// check expects; OpenSearch speaks the same REST API for what we use.
type productHeader struct{ next http.RoundTripper }

func (p productHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(r)
	if resp != nil && resp.Header.Get("X-Elastic-Product") == "" {
		resp.Header.Set("X-Elastic-Product", "Elasticsearch")
	}
	return resp, err
}
