package api_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// phaseStats collects the answers of one phase of a fault run.
type phaseStats struct {
	mu        sync.Mutex
	latencies []time.Duration
	statuses  map[int]int
	bad       []string
}

func (p *phaseStats) p99() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.latencies) == 0 {
		return 0
	}
	l := slices.Clone(p.latencies)
	slices.Sort(l)
	return l[len(l)*99/100]
}

// TestFaultRun: 32 clients search without pause while Redis is stopped for
// 20 s and started again (only 200 and 429 allowed), then while the search
// engine is cut for 20 s (only 200 and 503 problem+json), and search is
// back within 5 s of the engine's return. p99 is logged per phase.
func TestFaultRun(t *testing.T) {
	f := faultSetup(t)
	phases := []string{"before", "redis stopped", "redis back", "engine cut", "engine back"}
	stats := map[string]*phaseStats{}
	for _, p := range phases {
		stats[p] = &phaseStats{statuses: map[int]int{}}
	}
	var phaseMu sync.RWMutex
	phase := "before"
	setPhase := func(p string) {
		phaseMu.Lock()
		phase = p
		phaseMu.Unlock()
	}
	ctx, stop := context.WithCancel(context.Background())
	client := &http.Client{Timeout: 30 * time.Second}
	cities := []string{"San José", "Heredia", "Cartago", "Alajuela", "Limón", "Puntarenas"}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				body := `{"city":"` + cities[(i+n)%len(cities)] + `","size":10}`
				req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/customers/search", strings.NewReader(body))
				req.Header.Set("X-API-Key", f.comp1)
				req.Header.Set("Content-Type", "application/json")
				phaseMu.RLock()
				p := phase
				phaseMu.RUnlock()
				if strings.HasPrefix(p, "engine") && n%2 == 1 {
					req.Header.Set("Cache-Control", "no-cache") // half the load reaches the engine
				}
				start := time.Now()
				res, err := client.Do(req)
				took := time.Since(start)
				st := stats[p]
				st.mu.Lock()
				if err != nil {
					st.bad = append(st.bad, err.Error())
				} else {
					data, _ := io.ReadAll(res.Body)
					res.Body.Close()
					st.statuses[res.StatusCode]++
					st.latencies = append(st.latencies, took)
					ct := res.Header.Get("Content-Type")
					if res.StatusCode == 503 && ct != "application/problem+json" {
						st.bad = append(st.bad, "503 as "+ct+": "+string(data))
					}
				}
				st.mu.Unlock()
			}
		}()
	}
	// Redis: 60 s of load, stopped from 20 s to 40 s.
	time.Sleep(20 * time.Second)
	f.rdb.stop()
	setPhase("redis stopped")
	time.Sleep(20 * time.Second)
	f.rdb.start()
	setPhase("redis back")
	time.Sleep(20 * time.Second)
	// The engine: cut for 20 s under the same load.
	f.engine.Cut()
	setPhase("engine cut")
	time.Sleep(20 * time.Second)
	f.engine.Restore()
	setPhase("engine back")
	restored := time.Now()
	var recovered time.Duration
	for recovered == 0 && time.Since(restored) < 10*time.Second {
		res, data := f.post(t, f.srv.URL, "/api/v1/customers/search", f.comp1, "", `{"city":"Heredia"}`)
		if res.StatusCode == 200 {
			recovered = time.Since(restored)
		} else {
			_ = data
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(5 * time.Second)
	stop()
	wg.Wait()

	for _, p := range phases {
		st := stats[p]
		t.Logf("phase %-14s requests %6d statuses %v p99 %v", p, len(st.latencies), st.statuses, st.p99())
		require.Empty(t, st.bad, p)
		for status := range st.statuses {
			switch p {
			case "engine cut":
				require.Contains(t, []int{200, 503}, status, p)
			case "engine back":
				// Requests sent just before the restore may still see 503.
				require.Contains(t, []int{200, 429, 503}, status, p)
			default:
				require.Contains(t, []int{200, 429}, status, p)
			}
		}
	}
	require.Positive(t, stats["engine cut"].statuses[503], "the cut engine was under load")
	t.Logf("search recovered %v after the engine returned", recovered)
	require.NotZero(t, recovered, "search did not recover")
	require.Less(t, recovered, 5*time.Second)
}
