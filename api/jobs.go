package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
)

// getJob is the polling endpoint of every kind of job. Another company's
// job is 404, never 403.
// A job waiting in the fair queue also says where it stands.
func (s *Server) getJob(c *gin.Context) {
	j, err := s.deps.Jobs.Get(c.Request.Context(), tenantOf(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	pos, waiting, err := s.deps.Dispatcher.Fair().Position(c.Request.Context(), j)
	if err != nil {
		fail(c, err)
		return
	}
	if !waiting {
		c.JSON(http.StatusOK, j)
		return
	}
	c.JSON(http.StatusOK, queuedJob{Job: j, QueuePosition: pos.QueuePosition, AheadOfYou: &pos.AheadOfYou,
		EstimatedStartAt: pos.EstimatedStartAt})
}

// queuedJob is a job waiting in the fair queue, with its place in it.
type queuedJob struct {
	jobs.Job
	QueuePosition    int        `json:"queuePosition"`
	AheadOfYou       *int       `json:"aheadOfYou"`
	EstimatedStartAt *time.Time `json:"estimatedStartAt,omitempty"`
}

// listJobs pages the tenant's jobs, newest first, optionally of one type
// and state. The cursor is the last id of the previous page.
func (s *Server) listJobs(c *gin.Context) {
	o := jobs.ListOptions{Type: c.Query("type"), State: jobs.State(c.Query("state")), After: c.Query("cursor"), Limit: 50}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			invalid(c, "limit", "must be an integer between 1 and 100")
			return
		}
		o.Limit = n
	}
	if o.Type != "" && !slices.Contains(jobs.Types, o.Type) {
		invalid(c, "type", "must be one of "+strings.Join(jobs.Types, ", "))
		return
	}
	switch o.State {
	case "", jobs.Queued, jobs.Running, jobs.Succeeded, jobs.Failed, jobs.Canceled:
	default:
		invalid(c, "state", "must be queued, running, succeeded, failed or canceled")
		return
	}
	list, err := s.deps.Jobs.List(c.Request.Context(), tenantOf(c), o)
	if errs.Is(err, errs.Invalid) {
		invalid(c, "cursor", "is not one this API returned")
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	next := ""
	if len(list) == o.Limit {
		next = list[len(list)-1].ID
	}
	if list == nil {
		list = []jobs.Job{}
	}
	c.JSON(http.StatusOK, gin.H{"jobs": list, "nextCursor": next})
}

// scopeOfJob is the scope that starts (and so may cancel) a job type.
var scopeOfJob = map[string]auth.Scope{
	jobs.TypeSyncFull: auth.ScopeSync, jobs.TypeSyncIncremental: auth.ScopeSync, jobs.TypeSyncRefresh: auth.ScopeSync,
	jobs.TypeSegmentSearch: auth.ScopeSearch, jobs.TypeExport: auth.ScopeExport,
	jobs.TypeSyncCatalog: auth.ScopeSync,
}

// cancelJob cancels a queued or running job: 200 with the canceled job,
// 409 when it already ended, 403 without the scope that starts its type.
func (s *Server) cancelJob(c *gin.Context) {
	ctx := c.Request.Context()
	j, err := s.deps.Jobs.Get(ctx, tenantOf(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	k, _ := keyOf(c)
	if scope, ok := scopeOfJob[j.Type]; ok && !k.Has(scope) {
		writeProblem(c, problem(http.StatusForbidden, "this key lacks the \""+string(scope)+"\" scope"))
		return
	}
	j, err = s.deps.Dispatcher.Cancel(ctx, tenantOf(c), j.ID, "canceled by key "+k.Prefix)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, j)
}
