package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/cache"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/profile"
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
	req, err := segment.DecodeSearchRequest(body)
	if err != nil {
		fail(c, err)
		return
	}
	if err := scopeFilter(c, &req.Filter); err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if s.deps.Engine == nil {
		fail(c, errs.E(errs.Unavailable, "no search engine is configured"))
		return
	}
	now := time.Now()
	day := now.In(s.deps.Config.Location).Format(time.DateOnly)
	// totalKey is set once the index version is known: the filter's exact
	// total is then counted once and reused by its other pages and sorts.
	var totalKey string
	compute := func(ctx context.Context) ([]byte, error) {
		q := search.Query{
			Filter: req.Filter, Sort: req.Sort, Size: req.Size, Cursor: req.Cursor,
			Now: now, Location: s.deps.Config.Location,
		}
		var known int64
		if totalKey != "" {
			known, q.Uncounted = s.deps.Cache.Total(ctx, totalKey)
		}
		page, err := s.deps.Engine.Search(ctx, q)
		if err != nil {
			return nil, engineUnavailable(err)
		}
		switch {
		case q.Uncounted:
			page.Total = known
			metrics.SearchTotals.WithLabelValues("reused").Inc()
		case totalKey != "":
			s.deps.Cache.SetTotal(ctx, totalKey, page.Total)
			fallthrough
		default:
			metrics.SearchTotals.WithLabelValues("counted").Inc()
		}
		if page.Customers == nil {
			page.Customers = []profile.Profile{}
		}
		return json.Marshal(page)
	}
	// Redis down: the cache is an optimisation, so answer uncached.
	bypass := func() {
		out, err := compute(ctx)
		if err != nil {
			fail(c, err)
			return
		}
		c.Header("X-Cache", "bypass")
		c.Data(http.StatusOK, "application/json; charset=utf-8", out)
	}
	if s.redisDown.open() {
		bypass()
		return
	}
	version, err := s.deps.Cache.Version(ctx, s.deps.Engine.Current)
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
	company := tenantOf(c).CompanyID
	key := cache.Key(company, string(req.Canonical()), version, day)
	totalKey = cache.Key(company, string(req.Filter.Canonical()), version, day)
	fresh := strings.Contains(c.GetHeader("Cache-Control"), "no-cache")
	out, hit, err := s.deps.Cache.Do(ctx, key, fresh, compute)
	if err != nil {
		fail(c, err)
		return
	}
	if hit {
		c.Header("X-Cache", "HIT")
	} else {
		c.Header("X-Cache", "MISS")
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", out)
}
