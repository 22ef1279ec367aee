package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/reactivation/reactivation/internal/app"
)

// bareKeyPrefix names the bare handler's entries in the bench's Redis
// database.
const bareKeyPrefix = "reactivation:bench:bare:"

// bareHandler is the stack's own ceiling for a cached search: a gin
// handler without middleware that reads the body, makes one Redis GET of
// a stored answer and writes its bytes, on loopback like the API. It runs
// as a process of its own, as the API does (ServeBare, in the bench
// binary), or inside the bench process beside the clients
// (startBareInProcess): there no request crosses between processes, which
// no deployed server can match, so that figure is printed beside the
// target, not as its baseline.
type bareHandler struct {
	url    string
	client *http.Client
	stop   func()
}

// bareRouter serves the answers stored under bareKeyPrefix at
// POST /bare/<index>.
func bareRouter(rdb *redis.Client) http.Handler {
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
	return r
}

// storeAnswers stores the answers (one per search of the mix, the API's
// cached bytes) for the bare handler.
func storeAnswers(ctx context.Context, rdb *redis.Client, answers [][]byte) error {
	for i, a := range answers {
		if err := rdb.Set(ctx, bareKeyPrefix+strconv.Itoa(i), a, time.Hour).Err(); err != nil {
			return fmt.Errorf("bare handler: store answer: %w", err)
		}
	}
	return nil
}

func newBareClient(url string, stop func()) *bareHandler {
	return &bareHandler{url: url, stop: stop,
		client: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 512, DisableCompression: true}}}
}

// startBareInProcess serves the bare handler in the bench process.
func startBareInProcess(rdb *redis.Client) *bareHandler {
	srv := httptest.NewServer(bareRouter(rdb))
	return newBareClient(srv.URL, srv.Close)
}

// startBareProcess runs the bare handler as a process of its own: the
// bench binary's hidden bench-bare command (ServeBare) on redisURL.
func startBareProcess(ctx context.Context, redisURL string) (*bareHandler, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "bench-bare", "--redis", redisURL)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bare handler process: %w", err)
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		stop()
		return nil, fmt.Errorf("bare handler process: no address (%q): %v", line, err)
	}
	return newBareClient(strings.TrimSpace(line), stop), nil
}

// ServeBare is the bare handler's process (the bench's hidden bench-bare
// command): it serves on a loopback port of its own, writes its URL as
// the first line of out, and stops when ctx ends.
func ServeBare(ctx context.Context, redisURL string, out io.Writer) error {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	opt.Protocol = app.Protocol // the API's client, as the API sets it
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: bareRouter(rdb), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Fprintf(out, "http://%s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// call sends the body of search i and reads the answer.
func (b *bareHandler) call(ctx context.Context, i int, body io.Reader) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url+"/bare/"+strconv.Itoa(i), body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := b.client.Do(req)
	return drain(res, err, "bare handler")
}

// close stops the server.
func (b *bareHandler) close() {
	b.client.CloseIdleConnections()
	b.stop()
}

// dropAnswers deletes the stored answers.
func dropAnswers(rdb *redis.Client, n int) {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = bareKeyPrefix + strconv.Itoa(i)
	}
	rdb.Del(context.Background(), keys...)
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
