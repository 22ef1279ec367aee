package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/segment"
)

// Problem is an RFC 9457 problem detail, the body of every error response.
type Problem struct {
	Type     string         `json:"type"`
	Title    string         `json:"title"`
	Status   int            `json:"status"`
	Detail   string         `json:"detail,omitempty"`
	Instance string         `json:"instance,omitempty"`
	Errors   []FieldError   `json:"errors,omitempty"`
	Extra    map[string]any `json:"extra,omitempty"`
}

// FieldError names one bad field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// statuses maps domain error codes to HTTP: the one table.
var statuses = map[errs.Code]int{
	errs.Invalid:      http.StatusBadRequest,
	errs.Unauthorized: http.StatusUnauthorized,
	errs.Forbidden:    http.StatusForbidden,
	errs.NotFound:     http.StatusNotFound,
	errs.Conflict:     http.StatusConflict,
	errs.Unavailable:  http.StatusServiceUnavailable,
	errs.Internal:     http.StatusInternalServerError,
}

// problemTypes gives each status a stable type URI.
var problemTypes = map[int]string{
	400: "validation-error", 401: "unauthorized", 403: "forbidden", 404: "not-found",
	405: "method-not-allowed", 409: "conflict", 413: "payload-too-large", 415: "unsupported-media-type",
	429: "rate-limited", 500: "internal-error", 503: "unavailable",
}

func problem(status int, detail string) Problem {
	return Problem{
		Type:   "https://reactivation.dev/problems/" + problemTypes[status],
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
	}
}

// writeProblem aborts the request with p.
func writeProblem(c *gin.Context, p Problem) {
	p.Instance = c.Request.URL.Path
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(p.Status, p)
	// gin sets application/json on AbortWithStatusJSON; set ours again.
	c.Writer.Header().Set("Content-Type", "application/problem+json")
}

// fail answers err as a problem. Internal errors are logged with the
// request id and shown to clients only as "internal error".
func fail(c *gin.Context, err error) {
	var verr *segment.ValidationError
	if errors.As(err, &verr) {
		p := problem(http.StatusBadRequest, "the request has invalid fields")
		for _, fe := range verr.Errors {
			p.Errors = append(p.Errors, FieldError{Field: fe.Field, Message: fe.Message})
		}
		writeProblem(c, p)
		return
	}
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		// The client went away; nobody reads the answer.
		loggerOf(c).Debug("request canceled by the client")
		c.Abort()
		return
	}
	code := errs.CodeOf(err)
	status := statuses[code]
	if code == errs.Internal {
		loggerOf(c).Error("request failed", zap.Error(err))
		writeProblem(c, problem(status, "internal error"))
		return
	}
	var e *errs.Error
	errors.As(err, &e)
	if code == errs.Unavailable {
		loggerOf(c).Warn("dependency unavailable", zap.Error(err))
	}
	p := problem(status, e.Message)
	p.Extra = e.Detail
	writeProblem(c, p)
}

// invalid answers 400 naming one field.
func invalid(c *gin.Context, field, message string) {
	p := problem(http.StatusBadRequest, "the request has invalid fields")
	p.Errors = []FieldError{{Field: field, Message: message}}
	writeProblem(c, p)
}
