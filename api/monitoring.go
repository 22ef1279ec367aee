package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynqmon"
)

// monitoring mounts Asynqmon at /monitoring for admin keys. Browsers log in
// with basic auth, any user name and the admin key as password; API
// clients may send the key as usual.
func (s *Server) monitoring(r *gin.Engine) {
	h := asynqmon.New(asynqmon.Options{
		RootPath: "/monitoring", RedisConnOpt: s.deps.RedisConn, ReadOnly: false,
		// Queue charts, when a Prometheus server scrapes the API (PROMETHEUS_URL).
		PrometheusAddress: s.deps.Config.PrometheusURL,
	})
	handler := func(c *gin.Context) {
		secret := c.GetHeader("X-API-Key")
		if _, pass, ok := c.Request.BasicAuth(); ok && secret == "" {
			secret = pass
		}
		if secret == "" {
			c.Header("WWW-Authenticate", `Basic realm="reactivation monitoring", charset="UTF-8"`)
			writeProblem(c, problem(http.StatusUnauthorized, "log in with an admin API key as the password"))
			return
		}
		k, err := s.deps.Keys.Authenticate(c.Request.Context(), secret)
		if err != nil {
			c.Header("WWW-Authenticate", `Basic realm="reactivation monitoring", charset="UTF-8"`)
			fail(c, err)
			return
		}
		if !k.Admin {
			writeProblem(c, problem(http.StatusForbidden, "monitoring is for admin keys"))
			return
		}
		c.Set(ctxKey, k)
		h.ServeHTTP(c.Writer, c.Request)
	}
	r.Any("/monitoring", handler)
	r.Any("/monitoring/*path", handler)
}
