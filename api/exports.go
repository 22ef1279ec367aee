package api

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/campaign"
	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/segment"
)

// exportRoutes registers the export routes: start, status, download,
// delete, and the audit log for admin keys.
func (s *Server) exportRoutes(g *gin.RouterGroup) {
	h := exportHandlers{svc: s.deps.Exports, campaigns: campaignHandlers{svc: s.deps.Campaigns}}
	g.POST("/exports", s.idempotent(), h.start)
	g.GET("/exports/audit", h.audit)
	g.GET("/exports/:id", h.get)
	g.GET("/exports/:id/download", h.download)
	g.HEAD("/exports/:id/download", h.download)
	g.DELETE("/exports/:id", h.delete)
}

type exportHandlers struct {
	svc       *export.Service
	campaigns campaignHandlers
}

// exportStatus is an export as the API shows it.
type exportStatus struct {
	export.Export
	StatusURL   string `json:"statusUrl"`
	DownloadURL string `json:"downloadUrl,omitempty"`
}

func exportURL(id string) string { return "/api/v1/exports/" + id }

// start: POST /exports {"filter": {...}, "format", "fields", "excelBom",
// "csvFormulaEscape", "includeSuppressed"}, or {"campaignId", "group", ...} instead of a
// filter: the members of a frozen campaign's group (treatment unless the
// group is named).
func (h exportHandlers) start(c *gin.Context) {
	var req struct {
		Filter     json.RawMessage `json:"filter"`
		CampaignID *string         `json:"campaignId"`
		Group      string          `json:"group"`
		Format     string          `json:"format"`
		Fields     []string        `json:"fields"`
		ExcelBOM   bool            `json:"excelBom"`
		// CSVFormulaEscape nil means true for CSV (see export.Options).
		CSVFormulaEscape  *bool `json:"csvFormulaEscape"`
		IncludeSuppressed bool  `json:"includeSuppressed"`
	}
	if !decodeJSON(c, &req) {
		return
	}
	k, _ := keyOf(c)
	o := export.Options{Format: req.Format, Fields: req.Fields, ExcelBOM: req.ExcelBOM,
		CSVFormulaEscape: req.CSVFormulaEscape, IncludeSuppressed: req.IncludeSuppressed}
	if req.IncludeSuppressed {
		loggerOf(c).Info("export includes suppressed customers")
	}
	var job jobs.Job
	var err error
	if req.CampaignID != nil {
		job, err = h.startCampaign(c, *req.CampaignID, req.Group, len(req.Filter) > 0 && string(req.Filter) != "null", o)
	} else if req.Group != "" {
		invalid(c, "group", "applies only with campaignId")
		return
	} else {
		var f segment.Filter
		if f, err = scopedFilter(c, req.Filter); err == nil {
			job, err = h.svc.Start(c.Request.Context(), f, o, k.ID)
		}
	}
	if c.IsAborted() {
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	accepted(c, job, exportURL(job.ID))
}

// startCampaign starts the export of a campaign group; it answers bad
// input itself (the context is then aborted).
func (h exportHandlers) startCampaign(c *gin.Context, id, group string, hasFilter bool, o export.Options) (jobs.Job, error) {
	if hasFilter {
		invalid(c, "filter", "give either a filter or a campaignId, not both")
		return jobs.Job{}, nil
	}
	if group == "" {
		group = campaign.Treatment
	}
	if group != campaign.Treatment && group != campaign.Holdout && group != campaign.GlobalControl {
		invalid(c, "group", "must be treatment, holdout or globalControl")
		return jobs.Job{}, nil
	}
	x, err := h.campaigns.frozen(c, tenantOf(c), id)
	if err != nil {
		return jobs.Job{}, err
	}
	k, _ := keyOf(c)
	return h.svc.StartCampaign(c.Request.Context(), x.CompanyID, export.CampaignGroup{CampaignID: x.ID, Group: group}, o, k.ID)
}

func (h exportHandlers) get(c *gin.Context) {
	e, err := h.svc.Get(c.Request.Context(), tenantOf(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	st := exportStatus{Export: e, StatusURL: exportURL(e.ID)}
	if e.State == jobs.Succeeded && !e.Expired && !e.Deleted {
		st.DownloadURL = exportURL(e.ID) + "/download"
	}
	c.JSON(http.StatusOK, st)
}

// download streams the gzip file as stored: the file is a .gz, so there is
// no Content-Encoding, and its length and checksum are known up front.
func (h exportHandlers) download(c *gin.Context) {
	f, err := h.svc.Open(c.Request.Context(), tenantOf(c), c.Param("id"))
	switch {
	case errors.Is(err, export.ErrExpired):
		gone(c, "expired", err.Error())
		return
	case errors.Is(err, export.ErrDeleted):
		gone(c, "deleted", err.Error())
		return
	case err != nil:
		fail(c, err)
		return
	}
	etag := `"` + f.SHA256 + `"`
	hdr := c.Writer.Header()
	hdr.Set("ETag", etag)
	hdr.Set("Cache-Control", "private, no-cache")
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", "application/gzip")
	hdr.Set("Content-Length", strconv.FormatInt(f.SizeBytes, 10))
	hdr.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.FileName}))
	hdr.Set("X-Content-Type-Options", "nosniff")
	c.Status(http.StatusOK)
	if c.Request.Method == http.MethodHead {
		return
	}
	if _, err := f.WriteTo(c.Request.Context(), c.Writer); err != nil {
		// The status is sent: all we can do is cut the connection, so the
		// client sees a short body rather than a complete-looking file.
		loggerOf(c).Warn("export download interrupted", zap.String("export_id", f.ID), zap.Error(err))
		panic(http.ErrAbortHandler)
	}
}

// queryLimit reads the limit query parameter, def when absent; it answers
// 400 itself when the value is not an integer.
func queryLimit(c *gin.Context, def int) (int, bool) {
	v := c.Query("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		invalid(c, "limit", "must be an integer")
		return 0, false
	}
	return n, true
}

// etagMatches implements If-None-Match's weak comparison.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// gone answers 410 with a problem type of its own: the problem table has
// no 410.
func gone(c *gin.Context, kind, detail string) {
	writeProblem(c, Problem{
		Type:   "https://reactivation.dev/problems/" + kind,
		Title:  http.StatusText(http.StatusGone),
		Status: http.StatusGone,
		Detail: detail,
	})
}

func (h exportHandlers) delete(c *gin.Context) {
	if err := h.svc.Delete(c.Request.Context(), tenantOf(c), c.Param("id")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// audit: GET /exports/audit?limit=&cursor=, admin keys only.
func (h exportHandlers) audit(c *gin.Context) {
	if k, _ := keyOf(c); !k.Admin {
		writeProblem(c, problem(http.StatusForbidden, "the export audit log is for admin keys"))
		return
	}
	limit, ok := queryLimit(c, export.DefaultAuditLimit)
	if !ok {
		return
	}
	entries, next, err := h.svc.Audit(c.Request.Context(), limit, c.Query("cursor"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"entries": entries, "nextCursor": next})
}
