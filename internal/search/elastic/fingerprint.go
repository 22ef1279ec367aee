package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/reactivation/reactivation/internal/search"
)

// fingerprintPage is how many documents one fingerprint request reads.
const fingerprintPage = 5000

// Fingerprints pages the serving documents of the key range by customer
// id (search_after on the unique id), reading doc values only: no
// _source is fetched or parsed.
func (e *Engine) Fingerprints(ctx context.Context, lo, hi string, fn func([]search.Fingerprint) error) error {
	bounds := map[string]any{}
	if lo != "" {
		bounds["gt"] = lo
	}
	if hi != "" {
		bounds["lte"] = hi
	}
	query := map[string]any{"match_all": map[string]any{}}
	if len(bounds) > 0 {
		query = map[string]any{"range": map[string]any{"customerId": bounds}}
	}
	var after []any
	for {
		body := map[string]any{
			"query":            query,
			"sort":             []any{map[string]any{"customerId": "asc"}},
			"size":             fingerprintPage,
			"track_total_hits": false,
		}
		if after != nil {
			body["search_after"] = after
		}
		page, last, err := e.fingerprintSearch(ctx, body)
		if err != nil || len(page) == 0 {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		if len(page) < fingerprintPage {
			return nil
		}
		after = last
	}
}

// FingerprintsOf reads the fingerprints of the listed customers.
func (e *Engine) FingerprintsOf(ctx context.Context, ids []string) ([]search.Fingerprint, error) {
	var out []search.Fingerprint
	for start := 0; start < len(ids); start += fingerprintPage {
		chunk := ids[start:min(start+fingerprintPage, len(ids))]
		page, _, err := e.fingerprintSearch(ctx, map[string]any{
			"query":            map[string]any{"terms": map[string]any{"customerId": chunk}},
			"size":             len(chunk),
			"track_total_hits": false,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
	}
	return out, nil
}

// fingerprintSearch runs body against the alias with doc values in place
// of _source; last is the last hit's sort values. No stored field is
// loaded either (`stored_fields: _none_`): _id and _routing live in the
// same compressed stored-field blocks as _source, so fetching them costs
// about what reading _source does (7x the time of the doc values alone on
// 5,000 hits); the id comes from the customerId doc values instead.
func (e *Engine) fingerprintSearch(ctx context.Context, body map[string]any) ([]search.Fingerprint, []any, error) {
	body["_source"] = false
	body["stored_fields"] = "_none_"
	body["docvalue_fields"] = []string{"customerId", "companyId", "fingerprint", "sourceVersion"}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, nil, fmt.Errorf("encode fingerprint search: %w", err)
	}
	s := e.client.Search
	res, err := s(s.WithContext(ctx), s.WithIndex(e.alias), s.WithBody(bytes.NewReader(b)),
		s.WithFilterPath("hits.hits.fields", "hits.hits.sort"))
	if err != nil {
		return nil, nil, fmt.Errorf("read fingerprints: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return nil, nil, nil // nothing serves yet
	}
	if res.IsError() {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
		return nil, nil, fmt.Errorf("read fingerprints: %s: %s", res.Status(), msg)
	}
	var resp struct {
		Hits struct {
			Hits []struct {
				Fields struct {
					CustomerID  []string `json:"customerId"`
					CompanyID   []string `json:"companyId"`
					Fingerprint []string `json:"fingerprint"`
					Version     []int64  `json:"sourceVersion"`
				} `json:"fields"`
				Sort []any `json:"sort"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
		return nil, nil, fmt.Errorf("decode fingerprints: %w", err)
	}
	out := make([]search.Fingerprint, len(resp.Hits.Hits))
	var last []any
	for i, h := range resp.Hits.Hits {
		f := h.Fields
		out[i] = search.Fingerprint{CustomerID: first(f.CustomerID), CompanyID: first(f.CompanyID), Fingerprint: first(f.Fingerprint)}
		if len(f.Version) > 0 {
			out[i].Version = f.Version[0]
		}
		last = h.Sort
	}
	return out, last, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
