package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/cache"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/ratelimit"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// searchCustomers answers a synchronous segment search. The body is the
// filter's fields at the top level (as the seed's clients send them) plus
// sort, size and cursor. Answers are cached under a key made of the tenant,
// the normalised request, the index version and the business date, so a
// finished sync or a new day never serves a stale answer. A request with
// Cache-Control: no-cache is computed afresh. The exact total is counted
// once per (tenant, filter, index version, day) and reused by the filter's
// later pages and other sorts (docs/search-latency.md).
func (s *Server) searchCustomers(c *gin.Context) {
	body, ok := readBody(c)
	if !ok {
		return
	}
	k, _ := keyOf(c)
	memo := memoKey(k, body)
	decoded, ok := s.searches.get(memo)
	if !ok {
		req, err := segment.DecodeSearchRequest(body)
		if err != nil {
			fail(c, err)
			return
		}
		if err := scopeFilter(c, &req.Filter); err != nil {
			fail(c, err)
			return
		}
		decoded = decodedSearch{req: req, response: string(req.Canonical()), total: string(req.Filter.Canonical())}
		s.searches.put(memo, decoded)
	}
	req := decoded.req
	ctx := c.Request.Context()
	if s.deps.Engine == nil {
		fail(c, errs.E(errs.Unavailable, "no search engine is configured"))
		return
	}
	now := time.Now()
	// compute asks the engine for the page, and for the total only when
	// the lookup found none: a filter's exact total is counted once and
	// reused by its other pages and sorts.
	compute := func(ctx context.Context, known cache.Entry) (cache.Computed, error) {
		page, err := s.deps.Engine.Search(ctx, search.Query{
			Filter: req.Filter, Sort: req.Sort, Size: req.Size, Cursor: req.Cursor,
			Now: now, Location: s.deps.Config.Location, Uncounted: known.Counted, JSON: true,
		})
		if err != nil {
			return cache.Computed{}, engineUnavailable(err)
		}
		if known.Counted {
			page.Total = known.Total
			metrics.SearchTotals.WithLabelValues("reused").Inc()
		} else {
			metrics.SearchTotals.WithLabelValues("counted").Inc()
		}
		out, err := page.Encode()
		return cache.Computed{Response: out, Total: page.Total, Counted: !known.Counted}, err
	}
	// Redis down: the cache is an optimisation, so answer uncached.
	bypass := func() {
		out, err := compute(ctx, cache.Entry{})
		if err != nil {
			fail(c, err)
			return
		}
		c.Header("X-Cache", "bypass")
		writeJSONBytes(c, out.Response)
	}
	if s.redisDown.open() {
		bypass()
		return
	}
	day := now.In(s.deps.Config.Location).Format(time.DateOnly)
	company := tenantOf(c).CompanyID
	keys := cache.Search{
		Response: cache.Key(company, decoded.response, day),
		Total:    cache.Key(company, decoded.total, day),
	}
	fresh := strings.Contains(c.GetHeader("Cache-Control"), "no-cache")
	// One round trip for a hit: the key's rate limit, the index version
	// and the response (a miss reads the filter's total in another).
	var rate ratelimit.Pending
	entry, err := s.deps.Cache.Lookup(ctx, s.deps.Engine.Current, keys, fresh, func(p redis.Pipeliner) {
		rate = s.limiter.Queue(ctx, p, k.ID)
	})
	decision, rerr := rate.Result()
	if ratelimit.NoScript(rerr) {
		decision, rerr = s.limiter.Allow(ctx, k.ID) // loads the script
	}
	if rerr != nil {
		s.rateLimitUnavailable(c, rerr)
	} else if !s.admit(c, decision) {
		return
	}
	if errors.Is(err, cache.ErrUnavailable) {
		s.redisDown.trip()
		loggerOf(c).Warn("search cache unavailable: answering uncached", zap.Error(err))
		bypass()
		return
	}
	if err != nil {
		fail(c, engineUnavailable(err))
		return
	}
	if entry.Response != nil {
		c.Header("X-Cache", "HIT")
		writeJSONBytes(c, entry.Response)
		return
	}
	out, err := s.deps.Cache.Fill(ctx, keys, entry, func(ctx context.Context) (cache.Computed, error) { return compute(ctx, entry) })
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("X-Cache", "MISS")
	writeJSONBytes(c, out)
}

// writeJSONBytes answers 200 with b, a JSON document, and its length: a
// known length is written in one piece, not in chunks.
func writeJSONBytes(c *gin.Context, b []byte) {
	c.Header("Content-Length", strconv.Itoa(len(b)))
	c.Data(http.StatusOK, "application/json; charset=utf-8", b)
}
