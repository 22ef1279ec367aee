package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

func init() {
	Register(Scenario{
		Name: "load",
		Description: "64 clients search for 60 s through the API under its configured rate limit, 8 clients a key: " +
			"statuses, latencies of 200s and of all, the 429 share; anything but 200 or 429 with Retry-After is an error",
		Run: runLoad,
	})
}

// The load: loadClients clients share loadKeys keys, so each key's budget
// (RATE_LIMIT_BURST, then RATE_LIMIT_PER_MINUTE) is spent by several.
// Clients send back to back and, answered 429, wait the Retry-After they
// were given, as a well-behaved client does; so a key's clients keep
// spending its budget as it refills and part of their requests meet 429.
const (
	loadDuration = 60 * time.Second // BENCH_LOAD_SECONDS overrides it
	loadClients  = 64
	loadKeys     = 8
	loadMaxCalls = 5_000_000
)

func runLoad(ctx context.Context, env Env, r *Report) error {
	d, err := seconds("BENCH_LOAD_SECONDS", loadDuration)
	if err != nil {
		return err
	}
	h, err := startAPI(ctx, env, nil)
	if err != nil {
		return err
	}
	defer h.close()
	keys, err := h.companyKeys(ctx, loadKeys)
	if err != nil {
		return err
	}
	mix, err := h.searchMix(ctx)
	if err != nil {
		return err
	}
	rate, burst := h.cfg.RateLimitPerMinute, h.cfg.RateLimitBurst
	fmt.Fprintf(env.Out, "load: %d clients over %d keys (%d a minute, burst %d, each) for %s ...\n", loadClients, loadKeys, rate, burst, d)
	rngs := make([]*rand.Rand, loadClients)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(uint64(env.Seed), uint64(i)))
	}
	var hits atomic.Int64
	m := drive(ctx, loadClients, d, loadMaxCalls, func(ctx context.Context, client int) outcome {
		s := mix[rngs[client].IntN(len(mix))]
		res, b, err := h.call(ctx, http.MethodPost, "/api/v1/customers/search", keys[client%loadKeys], s.body)
		if err != nil {
			return outcome{err: err}
		}
		switch res.StatusCode {
		case http.StatusOK:
			if res.Header.Get("X-Cache") == "HIT" {
				hits.Add(1)
			}
			return outcome{class: http.StatusOK}
		case http.StatusTooManyRequests:
			wait, err := strconv.Atoi(res.Header.Get("Retry-After"))
			if err != nil || wait < 1 {
				return outcome{err: fmt.Errorf("429 with Retry-After %q", res.Header.Get("Retry-After"))}
			}
			return outcome{class: http.StatusTooManyRequests, pause: time.Duration(wait) * time.Second}
		}
		return outcome{err: fmt.Errorf("%s: %s: %.200s", s.name, res.Status, b)}
	})
	if m.errors > 0 {
		fmt.Fprintf(env.Out, "%d errors, the first: %v\n", m.errors, m.firstErr)
	}
	ok, limited := m.latencies[http.StatusOK], m.latencies[http.StatusTooManyRequests]
	var all []time.Duration
	for _, v := range m.latencies {
		all = append(all, v...)
	}
	secs := m.elapsed.Seconds()
	r.Add("requests", float64(m.calls), "requests")
	r.Add("ok_200", float64(len(ok)), "requests")
	r.Add("rate_limited_429", float64(len(limited)), "requests")
	r.Add("errors", float64(m.errors), "requests")
	r.Add("share_429", float64(len(limited))/float64(max(m.calls, 1)), "ratio")
	r.Add("cache_hit_share_of_200", float64(hits.Load())/float64(max(len(ok), 1)), "ratio")
	r.Add("rps_all", float64(m.calls)/secs, "req/s")
	r.Add("rps_200", float64(len(ok))/secs, "req/s")
	addLatencies(r, "ok", "", ok)
	addLatencies(r, "all", "", all)
	addLatencies(r, "rate_limited", "", limited)
	// GCRA lets a key through at most its burst plus what refills meanwhile.
	budget := float64(loadKeys) * (float64(burst) + float64(rate)*secs/60)
	r.Add("ok_200_over_key_budgets", float64(len(ok))/budget, "ratio")
	r.Add("seconds", secs, "s")
	r.AtMost("errors", float64(m.errors), 0)
	if len(limited) == 0 {
		fmt.Fprintln(env.Out, "no request met the rate limit: raise loadClients or lower RATE_LIMIT_*")
	}
	return nil
}
