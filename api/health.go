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

// readyz reports each dependency and is 503 only when PostgreSQL is down:
// jobs, exports, snapshots and keys live there, so a pod that has it still
// serves job polling, downloads and snapshot pages (and enqueues while
// Redis answers) even without the search engine or Redis; taking it out of
// the Service would turn a partial outage into a full one. ?strict=1 is
// 503 when any dependency is down, for checks that want everything. The
// index facts inform but never fail readiness: a fresh deployment must be
// ready to receive its first sync. Driver errors (addresses, hosts) are
// shown only to an admin key.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	details := s.adminCaller(c)
	strict := c.Query("strict") == "1" || c.Query("strict") == "true"
	checks := gin.H{}
	ready, all := true, true
	for name, err := range s.deps.Check(ctx) {
		if err == nil {
			checks[name] = gin.H{"status": "up", "critical": name == "postgres"}
			continue
		}
		all = false
		if name == "postgres" {
			ready = false
		}
		check := gin.H{"status": "down", "critical": name == "postgres"}
		if details {
			check["error"] = err.Error()
		}
		checks[name] = check
	}
	facts := s.indexFacts(ctx)
	if !details {
		delete(facts, "error")
	}
	body := gin.H{"status": "ready", "checks": checks, "index": facts}
	switch {
	case !ready || (strict && !all):
		body["status"] = "unavailable"
		c.JSON(http.StatusServiceUnavailable, body)
		return
	case !all:
		body["status"] = "degraded"
	}
	c.JSON(http.StatusOK, body)
}

// adminCaller reports whether the request carries a valid admin key; any
// failure (no key, PostgreSQL down) means no.
func (s *Server) adminCaller(c *gin.Context) bool {
	secret := secretOf(c)
	if secret == "" {
		return false
	}
	k, err := s.deps.Keys.Authenticate(c.Request.Context(), secret)
	return err == nil && k.Admin
}
