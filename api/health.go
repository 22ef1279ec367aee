package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz is 200 when PostgreSQL, Redis and the search engine answer. The
// index facts inform but never fail readiness: a fresh deployment must be
// ready to receive its first sync.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	checks := gin.H{}
	ready := true
	for name, err := range s.deps.Check(ctx) {
		if err != nil {
			ready = false
			checks[name] = gin.H{"status": "down", "error": err.Error()}
			continue
		}
		checks[name] = gin.H{"status": "up"}
	}
	body := gin.H{"status": "ready", "checks": checks, "index": s.indexFacts(ctx)}
	if !ready {
		body["status"] = "unavailable"
		c.JSON(http.StatusServiceUnavailable, body)
		return
	}
	c.JSON(http.StatusOK, body)
}
