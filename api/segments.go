package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/snapshot"
)

// segmentRoutes serves large-segment searches: an async job that freezes
// the complete matching set with a summary, then pages of that snapshot.
func (s *Server) segmentRoutes(g *gin.RouterGroup) {
	store := snapshot.NewStore(postgres.NewSnapshots(s.deps.DB))
	g.POST("/segments/searches", s.idempotent(), func(c *gin.Context) {
		var req struct {
			Filter json.RawMessage `json:"filter"`
			Sort   string          `json:"sort"`
		}
		if !decodeJSON(c, &req) {
			return
		}
		f, err := scopedFilter(c, req.Filter)
		if err != nil {
			fail(c, err)
			return
		}
		srt, err := segment.ParseSort(req.Sort)
		if err != nil {
			fail(c, err)
			return
		}
		k, _ := keyOf(c)
		job, err := snapshot.Start(c.Request.Context(), s.deps.Dispatcher, f, srt, k.ID)
		if err != nil {
			fail(c, err)
			return
		}
		accepted(c, job, "/api/v1/segments/searches/"+job.ID)
	})
	g.GET("/segments/searches/:id", func(c *gin.Context) {
		job, err := s.segmentJob(c)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"job": job, "summary": job.Result,
			"resultsUrl": "/api/v1/segments/searches/" + job.ID + "/results"})
	})
	g.GET("/segments/searches/:id/results", func(c *gin.Context) {
		job, err := s.segmentJob(c)
		if err != nil {
			fail(c, err)
			return
		}
		size := segment.DefaultSize
		if v := c.Query("size"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				invalid(c, "size", "must be an integer between 1 and 1000")
				return
			}
			size = n
		}
		if job.State != jobs.Succeeded {
			fail(c, conflictf("the segment search is %s, not succeeded", job.State))
			return
		}
		page, err := store.Read(c.Request.Context(), job.ID, c.Query("cursor"), size)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, page)
	})
}

// segmentJob loads the large-segment search job of the route's id for the
// caller's tenant; any other job type is not found.
func (s *Server) segmentJob(c *gin.Context) (jobs.Job, error) {
	job, err := s.deps.Jobs.Get(c.Request.Context(), tenantOf(c), c.Param("id"))
	if err == nil && job.Type != jobs.TypeSegmentSearch {
		return jobs.Job{}, jobs.NotFound(c.Param("id"))
	}
	return job, err
}
