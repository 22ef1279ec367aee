package api

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/idempotency"
)

// idempotencyWait is how long a duplicate of a request still running
// waits for its answer before it gets 409.
const idempotencyWait = 10 * time.Second

// idempotent makes a creating POST safe to retry: with an Idempotency-Key
// header, the first answer (status, body, Location) is stored in
// PostgreSQL for 24 hours and replayed to any request with the same key,
// API key, route and body, on any replica, with Idempotent-Replayed: true.
// The same key with another body is 422; a duplicate sent while the first
// still runs waits for its answer (409 past idempotencyWait). Answers that
// a retry may change (5xx, 408, 409, 429) are not stored. Without the
// header nothing changes. Register it after authentication, per route:
//
//	g.POST("/exports", s.idempotent(), h.start)
func (s *Server) idempotent() gin.HandlerFunc {
	store := s.deps.Idempotency
	return func(c *gin.Context) {
		key := c.GetHeader("Idempotency-Key")
		if key == "" {
			c.Next()
			return
		}
		if len(key) > 255 || strings.ContainsFunc(key, func(r rune) bool { return r < ' ' || r > '~' }) {
			invalid(c, "Idempotency-Key", "must be 1 to 255 printable ASCII characters")
			return
		}
		body, ok := readBody(c)
		if !ok {
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		h := sha256.New()
		h.Write([]byte(c.Request.Method + "\x00" + routeOf(c) + "\x00"))
		h.Write(body)
		k, _ := keyOf(c)
		ctx := c.Request.Context()

		stored, claimed, err := store.Begin(ctx, k.ID, key, h.Sum(nil), idempotencyWait)
		switch {
		case errors.Is(err, idempotency.ErrMismatch):
			writeProblem(c, Problem{
				Type: "https://reactivation.dev/problems/idempotency-key-reused", Title: http.StatusText(http.StatusUnprocessableEntity),
				Status: http.StatusUnprocessableEntity,
				Detail: "this Idempotency-Key was used with a different request; send a new key for a new request",
			})
			return
		case errors.Is(err, idempotency.ErrInFlight):
			c.Header("Retry-After", "1")
			writeProblem(c, problem(http.StatusConflict, "a request with this Idempotency-Key is still being answered; retry shortly"))
			return
		case err != nil:
			fail(c, err)
			return
		case !claimed:
			if stored.Location != "" {
				c.Header("Location", stored.Location)
			}
			c.Header("Idempotent-Replayed", "true")
			c.Data(stored.Status, stored.ContentType, stored.Body)
			c.Abort()
			return
		}

		rec := &recordingWriter{ResponseWriter: c.Writer}
		c.Writer = rec
		answered := false
		defer func() {
			// A panic or a transient answer: forget the key so a retry runs.
			if !answered {
				if err := store.Release(c.Request.Context(), k.ID, key); err != nil {
					loggerOf(c).Warn("release idempotency key", zap.Error(err))
				}
			}
		}()
		c.Next()
		if status := rec.Status(); replayable(status) {
			err := store.Complete(c.Request.Context(), k.ID, key, idempotency.Response{
				Status: status, Location: rec.Header().Get("Location"), ContentType: rec.Header().Get("Content-Type"), Body: rec.body.Bytes(),
			})
			if err != nil {
				loggerOf(c).Warn("store idempotent answer", zap.Error(err))
				return
			}
			answered = true
		}
	}
}

// replayable reports whether an answer is final for its request: a retry
// of a success or of a client error gets the same answer; a retry after a
// server error, a timeout, a conflict or a rate limit may not.
func replayable(status int) bool {
	switch {
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusConflict, status == http.StatusTooManyRequests:
		return false
	}
	return status >= 200
}

// recordingWriter keeps a copy of the body it writes.
type recordingWriter struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *recordingWriter) WriteString(s string) (int, error) {
	w.body.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}
