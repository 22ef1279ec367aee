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
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// searchCustomers answers a synchronous segment search. The body is the
// filter's fields at the top level (as the seed's clients send them) plus
// sort, size and cursor. Answers are cached under a key made of the tenant,
// the normalised request, the index version and the business date, so a
// finished sync or a new day never serves a stale answer. A request with
// Cache-Control: no-cache is computed afresh.
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
	compute := func(ctx context.Context) ([]byte, error) {
		page, err := s.deps.Engine.Search(ctx, search.Query{
			Filter: req.Filter, Sort: req.Sort, Size: req.Size, Cursor: req.Cursor,
			Now: now, Location: s.deps.Config.Location,
		})
		if err != nil {
			return nil, engineUnavailable(err)
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
	day := now.In(s.deps.Config.Location).Format(time.DateOnly)
	key := cache.Key(tenantOf(c).CompanyID, string(req.Canonical()), version, day)
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
