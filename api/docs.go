package api

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/goccy/go-yaml"
)

// openAPIYAML is the API's OpenAPI 3.0 document, the source of
// /openapi.json.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// docsAssets are the docs page and its script and stylesheet: our own code,
// served from the binary, so the page works without any CDN.
//
//go:embed docs/index.html docs/docs.js docs/docs.css
var docsAssets embed.FS

// docsPolicy lets the docs page load only its own assets and call only
// this API.
const docsPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsRoutes serves /openapi.json (the embedded YAML converted to JSON
// once, here) and the docs page at /docs. A document that does not convert
// is a build defect: it panics at start-up, and the tests catch it first.
func (s *Server) docsRoutes(r *gin.Engine) {
	spec, err := openAPIJSON(openAPIYAML)
	if err != nil {
		panic(err)
	}
	r.GET("/openapi.json", func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, "application/json; charset=utf-8", spec)
	})
	serveAssets(r, docsAssets, map[string]asset{
		"/docs":          {"docs/index.html", "text/html; charset=utf-8"},
		"/docs/docs.js":  {"docs/docs.js", "text/javascript; charset=utf-8"},
		"/docs/docs.css": {"docs/docs.css", "text/css; charset=utf-8"},
	})
}

// asset is an embedded file and its content type.
type asset struct{ file, contentType string }

// serveAssets serves each route's embedded file under docsPolicy. A file
// missing from fs is a build defect: it panics at start-up.
func serveAssets(r *gin.Engine, fs embed.FS, routes map[string]asset) {
	for route, a := range routes {
		body, err := fs.ReadFile(a.file)
		if err != nil {
			panic(fmt.Sprintf("api: embedded %s: %v", a.file, err))
		}
		r.GET(route, func(c *gin.Context) {
			c.Header("Content-Security-Policy", docsPolicy)
			c.Header("Cache-Control", "no-cache")
			c.Data(http.StatusOK, a.contentType, body)
		})
	}
}

// openAPIJSON converts the YAML document to compact JSON, keeping the
// order of its keys (the docs page lists paths in document order).
func openAPIJSON(doc []byte) ([]byte, error) {
	raw, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return nil, fmt.Errorf("api: openapi.yaml does not convert to valid JSON: %w", err)
	}
	return out.Bytes(), nil
}
