package api

import (
	"bytes"
	"embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/campaign"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/profile"
)

// campaignAssets are the campaign report page and its script and
// stylesheet, served from the binary like the docs page.
//
//go:embed docs/campaign.html docs/campaign.js docs/campaign.css
var campaignAssets embed.FS

// campaignRoutes registers the campaign routes: create and delete need the
// export scope (they lead to contacting people), reading needs search, and
// the company's control group needs admin.
func (s *Server) campaignRoutes(v1 *gin.RouterGroup) {
	h := campaignHandlers{svc: s.deps.Campaigns}
	export, search := v1.Group("", require(auth.ScopeExport)), v1.Group("", require(auth.ScopeSearch))
	export.POST("/campaigns", s.idempotent(), h.create)
	search.GET("/campaigns", h.list)
	search.GET("/campaigns/:id", h.get)
	export.DELETE("/campaigns/:id", h.delete)
	search.GET("/campaigns/:id/report", h.report)
	export.POST("/campaigns/:id/events", h.events)
	v1.PUT("/companies/:companyId/control-group", require(auth.ScopeAdmin), h.controlGroup)
}

type campaignHandlers struct{ svc *campaign.Service }

func campaignURL(id string) string { return "/api/v1/campaigns/" + id }

// campaignView is a campaign as the API shows it, with its links.
type campaignView struct {
	campaign.Campaign
	StatusURL string `json:"statusUrl"`
	ReportURL string `json:"reportUrl"`
	PageURL   string `json:"pageUrl"`
}

func viewOf(c campaign.Campaign) campaignView {
	return campaignView{Campaign: c, StatusURL: campaignURL(c.ID), ReportURL: campaignURL(c.ID) + "/report",
		PageURL: "/campaigns/" + c.ID}
}

// create: POST /campaigns {"name", "filter", "holdoutPercent", "sentAt",
// "windowDays", "cost", "currency", "channel", "includeSuppressed"}.
func (h campaignHandlers) create(c *gin.Context) {
	// cost and sentAt are read here, so a bad value names its field.
	var req struct {
		campaign.New
		Cost   json.RawMessage `json:"cost"`
		SentAt json.RawMessage `json:"sentAt"`
	}
	if !decodeJSON(c, &req) {
		return
	}
	if len(req.Cost) > 0 && string(req.Cost) != "null" {
		var cost profile.Cents
		if err := cost.UnmarshalJSON(req.Cost); err != nil {
			invalid(c, "cost", "must be an amount with at most two decimals, such as 150000.00")
			return
		}
		req.New.Cost = &cost
	}
	if len(req.SentAt) > 0 && string(req.SentAt) != "null" {
		var at time.Time
		if err := json.Unmarshal(req.SentAt, &at); err != nil {
			invalid(c, "sentAt", "must be an RFC 3339 timestamp such as 2026-10-01T15:00:00Z")
			return
		}
		req.New.SentAt = &at
	}
	f, err := scopedFilter(c, req.Filter)
	if err != nil {
		fail(c, err)
		return
	}
	k, _ := keyOf(c)
	created, job, err := h.svc.Create(c.Request.Context(), req.New, f, k.ID)
	if err != nil {
		fail(c, err)
		return
	}
	if created.IncludeSuppressed {
		loggerOf(c).Info("campaign includes suppressed customers")
	}
	c.Header("Location", campaignURL(created.ID))
	c.JSON(http.StatusAccepted, gin.H{"campaignId": created.ID, "jobId": job.ID, "statusUrl": campaignURL(created.ID),
		"jobUrl": "/api/v1/jobs/" + job.ID, "campaign": viewOf(created), "job": job})
}

func (h campaignHandlers) list(c *gin.Context) {
	limit, ok := queryLimit(c, campaign.DefaultListLimit)
	if !ok {
		return
	}
	list, err := h.svc.List(c.Request.Context(), tenantOf(c), limit, c.Query("cursor"))
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]campaignView, len(list))
	for i, x := range list {
		out[i] = viewOf(x)
	}
	next := ""
	if len(list) == limit {
		next = list[len(list)-1].ID
	}
	c.JSON(http.StatusOK, gin.H{"campaigns": out, "nextCursor": next})
}

func (h campaignHandlers) get(c *gin.Context) {
	x, err := h.svc.Get(c.Request.Context(), tenantOf(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, viewOf(x))
}

// delete removes a campaign not sent yet (204) or archives a sent one
// (200 with the archived campaign).
func (h campaignHandlers) delete(c *gin.Context) {
	deleted, x, err := h.svc.Delete(c.Request.Context(), tenantOf(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	if deleted {
		c.Status(http.StatusNoContent)
		return
	}
	c.JSON(http.StatusOK, viewOf(x))
}

// report answers JSON, or CSV when the client asks for text/csv.
func (h campaignHandlers) report(c *gin.Context) {
	r, err := h.svc.Report(c.Request.Context(), tenantOf(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Cache-Control", "private, no-cache")
	if c.NegotiateFormat(gin.MIMEJSON, "text/csv") == "text/csv" {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "campaign-" + r.CampaignID + "-report.csv"}))
		c.Status(http.StatusOK)
		w := csv.NewWriter(c.Writer)
		_ = w.WriteAll(reportRows(r))
		return
	}
	c.JSON(http.StatusOK, r)
}

// reportRows is the report as CSV rows metric,group,value: the same
// figures as the JSON, one per row.
func reportRows(r campaign.Report) [][]string {
	rows := [][]string{{"metric", "group", "value"}}
	add := func(metric, group string, v any) {
		s := ""
		switch x := v.(type) {
		case float64:
			s = strconv.FormatFloat(x, 'g', -1, 64)
		case *float64:
			if x != nil {
				s = strconv.FormatFloat(*x, 'g', -1, 64)
			}
		case time.Time:
			s = x.UTC().Format(time.RFC3339)
		default:
			s = fmt.Sprint(x)
		}
		rows = append(rows, []string{metric, group, s})
	}
	add("window.start", "", r.Window.Start)
	add("window.end", "", r.Window.End)
	add("window.complete", "", r.Window.Complete)
	add("window.asOf", "", r.Window.AsOf)
	groups := []struct {
		name string
		g    *campaign.GroupResult
	}{{campaign.Treatment, &r.Groups.Treatment}, {campaign.Holdout, &r.Groups.Holdout}, {campaign.GlobalControl, r.Groups.GlobalControl}}
	for _, g := range groups {
		if g.g == nil {
			continue
		}
		add("customers", g.name, g.g.Customers)
		add("reactivated", g.name, g.g.Reactivated)
		add("rate", g.name, g.g.Rate)
		add("orders", g.name, g.g.Orders)
		add("revenue", g.name, g.g.Revenue.String())
		add("revenuePerCustomer", g.name, g.g.RevenuePerCustomer.String())
	}
	if r.Lift != nil {
		add("lift.absolute", "", r.Lift.Absolute)
		add("lift.relative", "", r.Lift.Relative)
		add("lift.ci95.low", "", r.Lift.CI95[0])
		add("lift.ci95.high", "", r.Lift.CI95[1])
		add("lift.pValue", "", r.Lift.PValue)
	}
	if r.Incr != nil {
		add("incremental.customers", "", r.Incr.Customers)
		add("incremental.revenue", "", r.Incr.Revenue.String())
	}
	if r.Cost != nil {
		add("cost", "", r.Cost.String())
	}
	add("roi", "", r.ROI)
	add("suppressed", "", r.Suppressed)
	e := r.Events
	for _, m := range []struct {
		name string
		n    int64
	}{{"delivered", e.Delivered}, {"opened", e.Opened}, {"clicked", e.Clicked}, {"bounced", e.Bounced},
		{"unsubscribed", e.Unsubscribed}, {"complained", e.Complained}} {
		add("events."+m.name, e.Channel, m.n)
	}
	add("events.deliveredRate", e.Channel, e.DeliveredRate)
	add("events.openRate", e.Channel, e.OpenRate)
	add("events.clickRate", e.Channel, e.ClickRate)
	for _, d := range r.Daily {
		day := "daily." + strconv.Itoa(d.Day)
		add(day, campaign.Treatment, d.Treatment)
		add(day, campaign.Holdout, d.Holdout)
		if d.GlobalControl != nil {
			add(day, campaign.GlobalControl, *d.GlobalControl)
		}
	}
	for _, w := range r.Warnings {
		add("warning", "", w)
	}
	return rows
}

// events: POST /campaigns/{id}/events with an NDJSON or CSV body. The
// answer counts accepted, duplicate and rejected rows, with line numbers.
func (h campaignHandlers) events(c *gin.Context) {
	// The campaign first: another company's id is 404 whatever the body.
	if _, err := h.svc.Get(c.Request.Context(), tenantOf(c), c.Param("id")); err != nil {
		fail(c, err)
		return
	}
	format := ""
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch mt {
	case "application/x-ndjson", "application/ndjson", "application/jsonl":
		format = campaign.FormatNDJSON
	case "text/csv":
		format = campaign.FormatCSV
	default:
		writeProblem(c, problem(http.StatusUnsupportedMediaType, "send the events as application/x-ndjson or text/csv"))
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeProblem(c, problem(http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB: send the events in batches"))
		return
	}
	if err != nil {
		invalid(c, "body", "could not read the body")
		return
	}
	rows, res, err := campaign.ParseEvents(bytes.NewReader(body), format)
	if err != nil {
		fail(c, err)
		return
	}
	res, err = h.svc.ImportEvents(c.Request.Context(), tenantOf(c), c.Param("id"), rows, res)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

// controlGroup: PUT /companies/{companyId}/control-group {"percent"}. A
// company key may set only its own company's (another's is 404).
func (h campaignHandlers) controlGroup(c *gin.Context) {
	company := c.Param("companyId")
	if t := tenantOf(c); !t.Sees(company) {
		writeProblem(c, problem(http.StatusNotFound, "company "+company+" not found"))
		return
	}
	var req struct {
		Percent *float64 `json:"percent"`
	}
	if !decodeJSON(c, &req) {
		return
	}
	if req.Percent == nil {
		invalid(c, "percent", "is required")
		return
	}
	if err := h.svc.SetControlGroup(c.Request.Context(), company, *req.Percent); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"companyId": company, "percent": *req.Percent})
}

// campaignPage serves /campaigns/{id}: a page that reads the key like the
// docs page does and draws the report; the id is read from the path by
// its script, so the page itself reveals nothing.
func (s *Server) campaignPage(r *gin.Engine) {
	serveAssets(r, campaignAssets, map[string]asset{
		"/campaigns/:id":     {"docs/campaign.html", "text/html; charset=utf-8"},
		"/docs/campaign.js":  {"docs/campaign.js", "text/javascript; charset=utf-8"},
		"/docs/campaign.css": {"docs/campaign.css", "text/css; charset=utf-8"},
	})
}

// frozen loads the campaign named by an export request for the tenant
// and checks its audience is frozen.
func (h campaignHandlers) frozen(c *gin.Context, t jobs.Tenant, id string) (campaign.Campaign, error) {
	x, err := h.svc.Get(c.Request.Context(), t, id)
	if err != nil {
		return x, err
	}
	if x.State != campaign.Ready && x.State != campaign.Archived {
		return x, conflictf("campaign %s is %s; its audience is not frozen yet", id, x.State)
	}
	return x, nil
}
