package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/profile"
)

// The _bulk requests of every write: one request per call (the sync's
// batches of 5,000 documents; docs/index-mapping.md), its body appended
// into a reused buffer, its answer filtered by the engine down to each
// item's status and error, and read item by item only when the engine
// says some item failed.

// bulk sends items to index in one _bulk request, reading every item's
// result. Items refused with 429 or 5xx are sent again with backoff; an
// item the engine rejects fails the call with the customer id and the
// engine's reason. A transport failure or a refused request (engine
// unreachable, overloaded) fails the call, and the task retries later.
// refresh is the request's refresh parameter ("" for none).
func (e *Engine) bulk(ctx context.Context, index string, items []item, refresh string) error {
	pending := items
	for attempt := 0; len(pending) > 0; attempt++ {
		retry, err := e.bulkOnce(ctx, index, pending, refresh)
		if err != nil || len(retry) == 0 {
			return err
		}
		if attempt >= 6 {
			return fmt.Errorf("bulk to %s: %d items still refused after %d attempts", index, len(retry), attempt+1)
		}
		select {
		case <-time.After(time.Duration(250<<attempt) * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		pending = retry
	}
	return nil
}

// bulkBuffers keeps request bodies between calls: a sync's is some 12 MB.
var bulkBuffers = sync.Pool{New: func() any { return new([]byte) }}

// bulkFilter is what the engine writes of each item's result (the id
// too: what a proxy or a person reading the answer matches items by).
var bulkFilter = []string{"errors", "items.*._id", "items.*.status", "items.*.error.type", "items.*.error.reason"}

// bulkOnce sends items in one request and returns those to send again.
func (e *Engine) bulkOnce(ctx context.Context, index string, items []item, refresh string) ([]item, error) {
	buf := bulkBuffers.Get().(*[]byte)
	defer bulkBuffers.Put(buf)
	*buf = appendBulkBody((*buf)[:0], items)
	req := e.client.Bulk
	opts := []func(*esapi.BulkRequest){req.WithContext(ctx), req.WithIndex(index), req.WithFilterPath(bulkFilter...)}
	if refresh != "" {
		opts = append(opts, req.WithRefresh(refresh))
	}
	res, err := req(bytes.NewReader(*buf), opts...)
	if err != nil {
		return nil, fmt.Errorf("bulk to %s: %w", index, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return nil, fmt.Errorf("bulk to %s: %s", index, readError(res))
	}
	answer, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("bulk to %s: %w", index, err)
	}
	return bulkResults(answer, items)
}

// appendBulkBody appends the request lines of items: each action with its
// id, routing and external version, and an index action's document.
func appendBulkBody(b []byte, items []item) []byte {
	for i := range items {
		it := &items[i]
		b = append(b, `{"`...)
		b = append(b, it.action...)
		b = append(b, `":{"_id":`...)
		b = profile.AppendString(b, it.id)
		b = append(b, `,"routing":`...)
		b = profile.AppendString(b, it.routing)
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, it.version, 10)
		b = append(b, ",\"version_type\":\"external_gte\"}}\n"...)
		if it.doc != nil {
			b = AppendDocument(b, it.doc)
			b = append(b, '\n')
		}
	}
	return b
}

// bulkAnswer is a filtered _bulk answer.
type bulkAnswer struct {
	Errors bool `json:"errors"`
	Items  []map[string]struct {
		Status int `json:"status"`
		Error  struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
	} `json:"items"`
}

// bulkResults reads a filtered answer to items: nothing to do when no
// item failed; otherwise the items to retry, or the first rejection.
func bulkResults(answer []byte, items []item) ([]item, error) {
	var head struct {
		Errors bool `json:"errors"`
	}
	if err := json.Unmarshal(answer, &head); err != nil {
		return nil, fmt.Errorf("bulk answer: %w", err)
	}
	if !head.Errors {
		return nil, nil
	}
	var out bulkAnswer
	if err := json.Unmarshal(answer, &out); err != nil {
		return nil, fmt.Errorf("bulk answer: %w", err)
	}
	if len(out.Items) != len(items) {
		return nil, fmt.Errorf("bulk answer: %d results for %d items", len(out.Items), len(items))
	}
	var retry []item
	var rejected error
	for i, result := range out.Items {
		it := items[i]
		for _, r := range result {
			switch {
			case r.Status < 300, settled(it.action, r.Status):
			case retryable(r.Status):
				metrics.BulkItemFailures.WithLabelValues(strconv.Itoa(r.Status)).Inc()
				retry = append(retry, it)
			default:
				metrics.BulkItemFailures.WithLabelValues(strconv.Itoa(r.Status)).Inc()
				if rejected == nil {
					rejected = fmt.Errorf("customer %s rejected by the search engine: %s: %s", it.id, r.Error.Type, r.Error.Reason)
				}
			}
		}
	}
	if rejected != nil {
		return nil, errs.E(errs.Invalid, "%v", rejected)
	}
	return retry, nil
}
