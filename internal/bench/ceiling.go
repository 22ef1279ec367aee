package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
)

// bareKeyPrefix names the bare handler's entries in the bench's Redis
// database.
const bareKeyPrefix = "reactivation:bench:bare:"

// bareHandler is the stack's own ceiling for a cached search: a gin
// handler without middleware that reads the body, makes one Redis GET of
// a stored answer and writes its bytes, on loopback like the API. It
// serves in the bench process (the API is a child process), so both share
// the machine with the clients alike.
type bareHandler struct {
	srv    *httptest.Server
	rdb    *redis.Client
	client *http.Client
}

// startBare stores answers (one per search of the mix, the API's cached
// bytes) and serves them at POST /bare/<index>.
func startBare(ctx context.Context, rdb *redis.Client, answers [][]byte) (*bareHandler, error) {
	for i, a := range answers {
		if err := rdb.Set(ctx, bareKeyPrefix+strconv.Itoa(i), a, time.Hour).Err(); err != nil {
			return nil, fmt.Errorf("bare handler: store answer: %w", err)
		}
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/bare/:i", func(c *gin.Context) {
		_, _ = io.Copy(io.Discard, c.Request.Body)
		b, err := rdb.Get(c.Request.Context(), bareKeyPrefix+c.Param("i")).Bytes()
		if err != nil {
			c.Status(http.StatusBadGateway)
			return
		}
		c.Data(http.StatusOK, "application/json; charset=utf-8", b)
	})
	srv := httptest.NewServer(r)
	return &bareHandler{srv: srv, rdb: rdb,
		client: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 512, DisableCompression: true}}}, nil
}

// call sends the body of search i and reads the answer.
func (b *bareHandler) call(ctx context.Context, i int, body io.Reader) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.srv.URL+"/bare/"+strconv.Itoa(i), body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := b.client.Do(req)
	return drain(res, err, "bare handler")
}

// close stops the server and deletes the stored answers.
func (b *bareHandler) close(n int) {
	b.client.CloseIdleConnections()
	b.srv.Close()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = bareKeyPrefix + strconv.Itoa(i)
	}
	b.rdb.Del(context.Background(), keys...)
}

// openLoop sends call at a fixed rate for d, each on time whether or not
// earlier calls have answered (an open loop: a slow answer does not slow
// the arrivals), and returns each call's latency from the moment it was
// due, so a stalled sender counts against the server as a client would
// see it, and the calls that failed.
func openLoop(ctx context.Context, rate int, d time.Duration, call func(ctx context.Context, n int) error) (latencies []time.Duration, failed int64, firstErr error) {
	interval := time.Second / time.Duration(rate)
	total := int(d / interval)
	latencies = make([]time.Duration, 0, total)
	var mu sync.Mutex
	var wg sync.WaitGroup
	begin := time.Now()
	for n := range total {
		due := begin.Add(time.Duration(n) * interval)
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
				wg.Wait()
				return latencies, failed, ctx.Err()
			case <-time.After(wait):
			}
		}
		wg.Go(func() {
			err := call(ctx, n)
			took := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				firstErr = cmpErr(firstErr, err)
				return
			}
			latencies = append(latencies, took)
		})
	}
	wg.Wait()
	return latencies, failed, firstErr
}
