package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/syncrun"
)

func (s *Server) syncRoutes(g *gin.RouterGroup) {
	svc := s.deps.Sync
	g.POST("/syncs", s.idempotent(), func(c *gin.Context) {
		var req struct {
			Mode string `json:"mode"`
		}
		if !decodeJSON(c, &req) {
			return
		}
		// Every mode of /syncs spans all companies: one tenant must not
		// re-index the others or hold the nightly run back.
		if k, _ := keyOf(c); !k.Admin {
			writeProblem(c, problem(http.StatusForbidden, "syncs of the whole index are for admin keys; a company key refreshes its own customers with POST /api/v1/customers/refresh"))
			return
		}
		mode, ok := syncrun.ParseMode(req.Mode)
		if !ok {
			invalid(c, "mode", "must be one of "+strings.Join(syncrun.Modes, ", "))
			return
		}
		k, _ := keyOf(c)
		job, err := svc.Start(c.Request.Context(), mode, tenantOf(c), k.ID)
		if err != nil {
			fail(c, err)
			return
		}
		accepted(c, job, "/api/v1/syncs/"+job.ID)
	})
	g.GET("/syncs/:id", func(c *gin.Context) {
		run, err := svc.Get(c.Request.Context(), tenantOf(c), c.Param("id"))
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, run)
	})
	g.POST("/customers/refresh", s.idempotent(), func(c *gin.Context) {
		var req struct {
			CustomerIDs []string `json:"customerIds"`
		}
		if !decodeJSON(c, &req) {
			return
		}
		if len(req.CustomerIDs) == 0 || len(req.CustomerIDs) > 10000 {
			invalid(c, "customerIds", "must list 1 to 10000 customer ids")
			return
		}
		for _, id := range req.CustomerIDs {
			if id == "" || len(id) > 200 || strings.ContainsRune(id, 0) {
				invalid(c, "customerIds", "ids must be 1 to 200 characters without NUL")
				return
			}
		}
		k, _ := keyOf(c)
		job, err := svc.StartRefresh(c.Request.Context(), req.CustomerIDs, tenantOf(c), k.ID)
		if err != nil {
			fail(c, err)
			return
		}
		accepted(c, job, "/api/v1/jobs/"+job.ID)
	})
}

// accepted answers 202 with the job and where to poll it.
func accepted(c *gin.Context, job jobs.Job, statusURL string) {
	c.Header("Location", statusURL)
	c.JSON(http.StatusAccepted, gin.H{"jobId": job.ID, "statusUrl": statusURL, "job": job})
}

// indexFacts reports the serving generation, its size and the last sync's
// age; informational only.
func (s *Server) indexFacts(ctx context.Context) gin.H {
	facts := gin.H{"engine": "none", "alias": s.deps.Config.IndexAlias}
	if s.deps.Engine == nil {
		return facts
	}
	facts["engine"] = s.deps.Engine.Name()
	gen, err := s.deps.Engine.Current(ctx)
	if err != nil {
		facts["error"] = err.Error()
		return facts
	}
	facts["aliasExists"] = gen != ""
	facts["generation"] = gen
	if gen != "" {
		if n, err := s.deps.Engine.Documents(ctx, gen); err == nil {
			facts["documents"] = n
		}
	}
	if last, _ := s.deps.Sync.LastSyncAt(ctx); last != nil {
		facts["lastSyncAgeSeconds"] = time.Since(*last).Seconds()
	}
	return facts
}
