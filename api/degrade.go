package api

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/reactivation/reactivation/internal/errs"
)

// redisPause is how long the API stops asking Redis for optional things
// (the search cache, rate limits) after a Redis call failed: one request
// in that period pays a failed call, not every request.
const redisPause = 2 * time.Second

// breaker remembers a dependency's recent failure. The zero value is closed.
type breaker struct{ until atomic.Int64 }

// open reports whether the dependency failed within the pause.
func (b *breaker) open() bool { return time.Now().UnixNano() < b.until.Load() }

// trip records a failure now.
func (b *breaker) trip() { b.until.Store(time.Now().Add(redisPause).UnixNano()) }

// engineUnavailable names the search engine in a 503 for an engine error
// that carries no domain code of its own.
func engineUnavailable(err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return &errs.Error{Code: errs.Unavailable, Message: "the search engine is unavailable", Err: err}
}
