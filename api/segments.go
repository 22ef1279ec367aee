package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/reactivation/reactivation/internal/segment"
)

// segmentRoutes serves large-segment searches: an async job that freezes
// the complete matching set with a summary, then pages of that snapshot.
func (s *Server) segmentRoutes(g *gin.RouterGroup) {
	svc := s.deps.Segments
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
		job, err := svc.Start(c.Request.Context(), f, srt, k.ID)
		if err != nil {
			fail(c, err)
			return
		}
		accepted(c, job, "/api/v1/segments/searches/"+job.ID)
	})
	g.GET("/segments/searches/:id", func(c *gin.Context) {
		job, err := svc.Get(c.Request.Context(), tenantOf(c), c.Param("id"))
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"job": job, "summary": job.Result,
			"resultsUrl": "/api/v1/segments/searches/" + job.ID + "/results"})
	})
	g.GET("/segments/searches/:id/results", func(c *gin.Context) {
		size := segment.DefaultSize
		if v := c.Query("size"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				invalid(c, "size", "must be an integer between 1 and 1000")
				return
			}
			size = n
		}
		page, err := svc.Results(c.Request.Context(), tenantOf(c), c.Param("id"), c.Query("cursor"), size)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, page)
	})
}
