package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reactivation/reactivation/internal/errs"
)

func (s *Server) scoresRoutes(g *gin.RouterGroup) {
	store := s.deps.Scores
	g.GET("/scores", func(c *gin.Context) {
		t := tenantOf(c)
		company := c.Query("companyId")
		switch {
		case t.Admin && company == "":
			invalid(c, "companyId", "is required for admin keys")
			return
		case !t.Admin && company != "" && company != t.CompanyID:
			// Another company's scores do not exist for this key.
			fail(c, errs.E(errs.NotFound, "no scores for company %q", company))
			return
		case !t.Admin:
			company = t.CompanyID
		}
		ctx := c.Request.Context()
		gen, err := s.deps.Engine.Current(ctx)
		if err != nil {
			fail(c, err)
			return
		}
		if gen == "" {
			fail(c, errs.E(errs.NotFound, "no index is serving yet: run a full sync first"))
			return
		}
		m, err := store.Company(ctx, gen, company, s.deps.Config.Location)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, m.Report(gen))
	})
}
