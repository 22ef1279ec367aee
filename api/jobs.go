package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// getJob is the polling endpoint of every kind of job. Another company's
// job is 404, never 403.
func (s *Server) getJob(c *gin.Context) {
	j, err := s.deps.Jobs.Get(c.Request.Context(), tenantOf(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, j)
}
